#include "agent/check/checker.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "common/bucket_key.h"
#include "common/clock.h"

namespace sluice {
namespace {

// True when retry-after `a` is more restrictive than `b` (-1 is "never").
bool LongerRetry(int64_t a, int64_t b) {
  if (a < 0) return b >= 0;
  if (b < 0) return false;
  return a > b;
}

}  // namespace

Checker::Checker(size_t max_buckets, LeaseTiming timing)
    : table_(max_buckets), timing_(timing), index_(RuleIndex::Empty()) {
  rules_scratch_.reserve(16);
  matched_.reserve(16);
  key_scratch_.reserve(256);
  prepared_.reserve(kMaxPrepared);
  prep_rules_.reserve(kMaxPrepared);
  prep_keys_.reserve(kMaxPrepared);
  prep_hashes_.reserve(kMaxPrepared);
  prep_key_bytes_.reserve(kMaxPrepared * 32);
  pending_.reserve(1024);
}

void Checker::SetRules(std::shared_ptr<const RuleIndex> index, int64_t now) {
  if (index == nullptr) index = RuleIndex::Empty();
  ClearPrepared();  // prepared checks point into the old index
  // Rules whose buckets must go, and rules whose buckets adopt a change.
  std::unordered_set<int64_t> drop;
  // id -> (old version, new version): the bucket refills at the old rate
  // up to now, then adopts the new one.
  std::unordered_map<int64_t, std::pair<const Rule*, const Rule*>> reconfigure;
  for (const Rule& old_rule : index_->rules()) {
    const Rule* new_rule = index->Find(old_rule.id);
    if (new_rule == nullptr || new_rule->domain != old_rule.domain ||
        new_rule->match != old_rule.match) {
      drop.insert(old_rule.id);
    } else if (*new_rule != old_rule) {
      reconfigure.emplace(old_rule.id, std::make_pair(&old_rule, new_rule));
    }
  }
  // The old index stays alive until the buckets have adopted the new one.
  const std::shared_ptr<const RuleIndex> old_index =
      std::exchange(index_, std::move(index));
  counts_.assign(index_->rules().size(), RuleDecisionCounts{});
  if (drop.empty() && reconfigure.empty()) return;

  ClearPending();  // handles move when buckets are removed
  for (size_t i = 0; i < table_.size();) {
    const auto h = static_cast<BucketTable::Handle>(i);
    const int64_t rule_id = BucketKeyRuleId(table_.key(h));
    if (drop.count(rule_id) != 0) {
      table_.Remove(h);  // the last bucket moves into h: visit it next
      continue;
    }
    auto it = reconfigure.find(rule_id);
    if (it != reconfigure.end()) {
      table_.bucket(h).Reconfigure(*it->second.first, *it->second.second, now);
    }
    ++i;
  }
}

void Checker::ResetDecisionCounts() {
  std::fill(counts_.begin(), counts_.end(), RuleDecisionCounts{});
}

bool Checker::Prepared::Is(std::string_view domain, const Descriptor& d) const {
  // The same bytes of the same buffer: the same request.
  return domain_data == domain.data() && domain_size == domain.size() &&
         pairs == d.size() &&
         (d.empty() || (first_value == d.front().second.data() &&
                        last_value == d.back().second.data()));
}

void Checker::Prepare(std::string_view domain, const Descriptor& d) {
  // Bounded: huge values (a hostile client) are simply not prepared.
  if (prepared_.size() >= kMaxPrepared ||
      prep_key_bytes_.size() >= kMaxPreparedKeyBytes) {
    return;
  }
  index_->Match(domain, d, &rules_scratch_);
  Prepared p;
  p.domain_data = domain.data();
  p.domain_size = domain.size();
  p.pairs = d.size();
  p.first_value = d.empty() ? nullptr : d.front().second.data();
  p.last_value = d.empty() ? nullptr : d.back().second.data();
  p.first = static_cast<uint32_t>(prep_rules_.size());
  p.count = static_cast<uint32_t>(rules_scratch_.size());
  for (const Rule* rule : rules_scratch_) {
    BuildBucketKey(*rule, d, &key_scratch_);
    const uint64_t hash = BucketTable::HashOf(key_scratch_);
    prep_rules_.push_back(rule);
    prep_keys_.push_back(KeySpan{static_cast<uint32_t>(prep_key_bytes_.size()),
                                 static_cast<uint32_t>(key_scratch_.size())});
    prep_key_bytes_ += key_scratch_;
    prep_hashes_.push_back(hash);
  }
  prepared_.push_back(p);
}

void Checker::PrefetchPrepared() const {
  // The first buckets of the batch; Check() keeps the window moving. (All
  // of a large batch at once would evict the first before they are used.)
  const size_t n = prep_hashes_.size();
  for (size_t i = 0; i < n && i < 2 * kPrefetchAhead; ++i) {
    table_.Prefetch(prep_hashes_[i], 0);
  }
  for (size_t i = 0; i < n && i < kPrefetchAhead; ++i) {
    table_.Prefetch(prep_hashes_[i], 1);
  }
}

void Checker::ClearPrepared() {
  prepared_.clear();
  prep_rules_.clear();
  prep_keys_.clear();
  prep_key_bytes_.clear();
  prep_hashes_.clear();
  next_prepared_ = 0;
}

const Checker::Prepared* Checker::TakePrepared(std::string_view domain,
                                               const Descriptor& d) {
  // In order, but a request prepared and then not checked (its connection
  // went away, an RL.ACQUIRE parked it) is stepped over.
  constexpr size_t kMaxSkip = 16;
  const size_t end = std::min(prepared_.size(), next_prepared_ + kMaxSkip);
  for (size_t i = next_prepared_; i < end; ++i) {
    if (prepared_[i].Is(domain, d)) {
      next_prepared_ = i + 1;
      // Keep loading ahead: index slots 2 * kPrefetchAhead buckets ahead,
      // entries (whose slots are loaded by now) kPrefetchAhead ahead.
      const Prepared& p = prepared_[i];
      for (size_t k = p.first; k < p.first + p.count; ++k) {
        if (k + 2 * kPrefetchAhead < prep_hashes_.size()) {
          table_.Prefetch(prep_hashes_[k + 2 * kPrefetchAhead], 0);
        }
        if (k + kPrefetchAhead < prep_hashes_.size()) {
          table_.Prefetch(prep_hashes_[k + kPrefetchAhead], 1);
        }
      }
      return &p;
    }
  }
  return nullptr;
}

Checker::Result Checker::Check(std::string_view domain, int64_t cost,
                               const Descriptor& d, int64_t now, Decision* out,
                               const CheckOptions& options) {
  // The rules, bucket keys and key hashes: from Prepare(), or worked out
  // now.
  const Prepared* prep = prepared_.empty() ? nullptr : TakePrepared(domain, d);
  size_t rule_count;
  if (prep != nullptr) {
    rule_count = prep->count;
  } else {
    index_->Match(domain, d, &rules_scratch_);
    rule_count = rules_scratch_.size();
  }
  if (rule_count == 0) {
    *out = Decision::NoRule();
    return Result::kDone;
  }
  bool admitted = true;
  if (!MatchBuckets(prep, d, rule_count, cost, now, &admitted)) {
    return Result::kBucketLimit;
  }
  if (cost > 0) Settle(admitted, cost, now, options);
  Report(admitted, out);
  return Result::kDone;
}

bool Checker::MatchBuckets(const Prepared* prep, const Descriptor& d,
                           size_t rule_count, int64_t cost, int64_t now,
                           bool* admitted) {
  const bool peek = cost == 0;
  matched_.clear();
  for (size_t i = 0; i < rule_count; ++i) {
    const Rule* rule;
    std::string_view key;
    uint64_t hash;
    if (prep != nullptr) {
      const size_t at = prep->first + i;
      rule = prep_rules_[at];
      key = std::string_view(prep_key_bytes_)
                .substr(prep_keys_[at].offset, prep_keys_[at].size);
      hash = prep_hashes_[at];
    } else {
      rule = rules_scratch_[i];
      BuildBucketKey(*rule, d, &key_scratch_);
      key = key_scratch_;
      hash = BucketTable::HashOf(key);
    }
    Matched m{rule, BucketTable::kNone, false, Decision{}, ContextFor(key)};
    if (peek) {
      m.handle = table_.Find(key);
      if (m.handle != BucketTable::kNone) {
        LocalBucket& bucket = table_.bucket(m.handle);
        m.can = bucket.CanTake(*rule, now, 0, *m.ctx, &m.d);
      } else {
        LocalBucket fresh(*rule, now, ctx_);
        m.can = fresh.CanTake(*rule, now, 0, *m.ctx, &m.d);
      }
    } else {
      m.handle = table_.FindOrCreate(key, hash, *rule, now, ctx_);
      if (m.handle == BucketTable::kNone) return false;
      LocalBucket& bucket = table_.bucket(m.handle);
      m.can = bucket.CanTake(*rule, now, cost, *m.ctx, &m.d);
    }
    if (!m.can && rule->mode == RuleMode::kEnforce) *admitted = false;
    matched_.push_back(m);
  }
  return true;
}

void Checker::Settle(bool admitted, int64_t cost, int64_t now,
                     const CheckOptions& options) {
  for (Matched& m : matched_) {
    LocalBucket& bucket = table_.bucket(m.handle);
    RuleDecisionCounts& counts = counts_[RuleSlot(m.rule)];
    const bool shadow = m.rule->mode == RuleMode::kShadow;
    if (admitted && m.can) {
      bucket.Take(*m.rule, now, cost, *m.ctx, &m.d);
      ++counts.allowed;
    } else {
      // Refused by this rule, or (admitted) a shadow rule that would have
      // refused, or (refused) a bucket the AND left untouched: that one
      // spends nothing and counts no demand (it could have taken; counted
      // as refused it would look contended and pace its lease).
      if (options.report_demand && !m.can) {
        if (shadow || !options.spread_retry) {
          bucket.CountRefused(cost);
        } else {
          bucket.Refuse(*m.rule, now, cost, *m.ctx, &m.d);
        }
      }
      if (options.count_refusal && !m.can) {
        ++(shadow ? counts.shadow_refused : counts.refused);
      }
    }
    CollectLease(*m.rule, m.handle, now);
  }
}

void Checker::Report(bool admitted, Decision* out) const {
  // The most restrictive enforce rule.
  const Matched* report = nullptr;
  for (const Matched& m : matched_) {
    if (m.rule->mode != RuleMode::kEnforce) continue;
    if (admitted) {
      if (report == nullptr || m.d.remaining < report->d.remaining) {
        report = &m;
      }
    } else if (!m.can) {
      if (report == nullptr ||
          LongerRetry(m.d.retry_after_ms, report->d.retry_after_ms)) {
        report = &m;
      }
    }
  }
  if (report == nullptr) {
    *out = Decision::NoRule();
    return;
  }
  *out = report->d;
  out->rule_id = report->rule->id;
  out->allowed = admitted;
  if (admitted) out->retry_after_ms = 0;
}

void Checker::SetLeaseContext(const LeaseContext& ctx) {
  ctx_ = ctx;
  owner_away_ctx_ = LeaseContext{false, ctx.agents};
}

void Checker::SetOwners(std::shared_ptr<const OwnerMap> owners) {
  owners_ = std::move(owners);
  owners_mixed_ = owners_ != nullptr && owners_->any_reachable() &&
                  !owners_->all_reachable();
}

const LeaseContext* Checker::ContextFor(std::string_view key) const {
  // Only while some owners are away. (A valid lease still pays first,
  // whatever the context: LocalBucket's sources; what the away context
  // changes is whether its safe share may follow.)
  if (!owners_mixed_ || owners_->Reachable(key)) return &ctx_;
  return &owner_away_ctx_;
}

bool Checker::OwnerReachable(BucketTable::Handle h) const {
  return !owners_mixed_ || owners_->Reachable(table_.key(h));
}

void Checker::CollectLease(const Rule& rule, BucketTable::Handle h,
                           int64_t now) {
  if (!ctx_.controller_reachable) return;
  uint32_t& flags = table_.flags(h);
  if ((flags & kPendingFlag) != 0) return;
  int64_t want = 0;
  if (!table_.bucket(h).NeedsLease(rule, now, timing_, ctx_, &want)) return;
  flags |= kPendingFlag;
  pending_.push_back(h);
}

bool Checker::AddWant(const Rule& rule, BucketTable::Handle h, int64_t now,
                      const LeaseTiming* sweep, std::vector<LeaseWant>* out) {
  LocalBucket& bucket = table_.bucket(h);
  int64_t want = 0;
  if (!(sweep != nullptr
            ? bucket.NeedsSweepLease(rule, now, *sweep, ctx_, &want)
            : bucket.NeedsLease(rule, now, timing_, ctx_, &want))) {
    return false;
  }
  LeaseWant w;
  int64_t rule_id = 0;
  if (!ParseBucketKey(table_.key(h), &rule_id, &w.values)) return false;
  w.rule_id = rule_id;
  w.want = want;
  if (want > 0) {
    bucket.MarkRequested(now, &w.admitted, &w.refused, &w.unleased);
  } else {
    bucket.MarkReported(now, &w.admitted, &w.refused, &w.unleased);
  }
  out->push_back(std::move(w));
  return true;
}

void Checker::TakeMootReport(BucketTable::Handle h, int64_t now,
                             std::vector<LeaseWant>* unsent) {
  LeaseWant w;
  table_.bucket(h).MarkReported(now, &w.admitted, &w.refused, &w.unleased);
  if (unsent == nullptr) return;
  int64_t rule_id = 0;
  if (!ParseBucketKey(table_.key(h), &rule_id, &w.values)) return;
  w.rule_id = rule_id;
  unsent->push_back(std::move(w));
}

void Checker::ClearPending() {
  for (BucketTable::Handle h : pending_) table_.flags(h) &= ~kPendingFlag;
  pending_.clear();
}

void Checker::TakeLeaseWants(int64_t now, std::vector<LeaseWant>* out) {
  if (!ctx_.controller_reachable) {
    ClearPending();
    return;
  }
  for (BucketTable::Handle h : pending_) {
    table_.flags(h) &= ~kPendingFlag;
    // An owner away: nothing is marked, the bucket's report waits.
    if (!OwnerReachable(h)) continue;
    const Rule* rule = index_->Find(BucketKeyRuleId(table_.key(h)));
    if (rule != nullptr) AddWant(*rule, h, now, /*sweep=*/nullptr, out);
  }
  pending_.clear();
}

Checker::SweepStats Checker::Sweep(int64_t now, size_t max_entries,
                                   std::vector<LeaseWant>* out,
                                   std::vector<LeaseWant>* unsent) {
  TakeLeaseWants(now, out);
  SweepStats stats;
  // More than half full: quiet buckets report at once (those decided
  // locally, and those that only spent leased tokens), so that the next
  // pass can evict them, instead of holding them for the quiet delay.
  LeaseTiming sweep_timing = timing_;
  if (table_.size() > table_.max_buckets() / 2) {
    sweep_timing.quiet_report_ns = 0;
  }
  // Visit each bucket at most once: an eviction moves the last bucket into
  // the cursor's place, and that one still counts against the budget.
  size_t budget = std::min(max_entries, table_.size());
  while (budget > 0 && table_.size() > 0) {
    if (sweep_cursor_ >= table_.size()) sweep_cursor_ = 0;
    const auto h = static_cast<BucketTable::Handle>(sweep_cursor_);
    --budget;
    ++stats.scanned;
    const Rule* rule = index_->Find(BucketKeyRuleId(table_.key(h)));
    if (rule == nullptr || table_.bucket(h).Idle(*rule, now, timing_)) {
      table_.Remove(h);
      ++stats.evicted;
      continue;
    }
    if (table_.bucket(h).ReportMoot(*rule, now, sweep_timing, ctx_)) {
      TakeMootReport(h, now, unsent);
      table_.Remove(h);
      ++stats.evicted;
      ++stats.moot;
      continue;
    }
    if (ctx_.controller_reachable && OwnerReachable(h) &&
        AddWant(*rule, h, now, &sweep_timing, out)) {
      ++stats.wants;
    }
    ++sweep_cursor_;
  }
  return stats;
}

void Checker::TakeFinalReports(int64_t now, std::vector<LeaseWant>* out) {
  ClearPending();
  for (size_t i = 0; i < table_.size(); ++i) {
    const auto h = static_cast<BucketTable::Handle>(i);
    LeaseWant w;
    table_.bucket(h).MarkReported(now, &w.admitted, &w.refused, &w.unleased);
    if (w.admitted == 0 && w.refused == 0 && w.unleased == 0) continue;
    if (!ParseBucketKey(table_.key(h), &w.rule_id, &w.values)) continue;
    out->push_back(std::move(w));
  }
}

size_t Checker::ApplyGrant(const LeaseGrant& grant, int64_t sent_at,
                           int64_t now) {
  return ApplyGrant(KeyGrant(grant), sent_at, now);
}

Checker::KeyedGrant Checker::KeyGrant(const LeaseGrant& grant) {
  KeyedGrant keyed;
  keyed.items.reserve(grant.items.size());
  std::string key;
  for (const LeaseGrantItem& item : grant.items) {
    MakeBucketKey(item.rule_id, item.values, &key);
    keyed.items.push_back(
        KeyedGrant::Item{static_cast<uint32_t>(keyed.keys.size()),
                         static_cast<uint32_t>(key.size()),
                         BucketTable::HashOf(key), item.tokens, item.ttl_ms});
    keyed.keys += key;
  }
  return keyed;
}

size_t Checker::ApplyGrant(const KeyedGrant& grant, int64_t sent_at,
                           int64_t now) {
  const std::vector<KeyedGrant::Item>& items = grant.items;
  // Buckets of a grant are spread over the table: load them ahead (see
  // kPrefetchAhead).
  for (size_t i = 0; i < items.size() && i < 2 * kPrefetchAhead; ++i) {
    table_.Prefetch(items[i].hash, 0);
  }
  size_t applied = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i + 2 * kPrefetchAhead < items.size()) {
      table_.Prefetch(items[i + 2 * kPrefetchAhead].hash, 0);
    }
    if (i + kPrefetchAhead < items.size()) {
      table_.Prefetch(items[i + kPrefetchAhead].hash, 1);
    }
    const KeyedGrant::Item& item = items[i];
    const std::string_view key =
        std::string_view(grant.keys).substr(item.key_offset, item.key_size);
    const BucketTable::Handle h = table_.Find(key, item.hash);
    if (h == BucketTable::kNone) continue;
    const Rule* rule = index_->Find(BucketKeyRuleId(key));
    if (rule == nullptr) continue;  // its rule is gone: the bucket goes too
    // The controller's values are trusted but kept in range (a day at most)
    // so that the nanosecond arithmetic cannot overflow.
    constexpr int64_t kMaxTtlMs = 24 * 3600 * 1000;
    const int64_t ttl_ms = std::clamp<int64_t>(item.ttl_ms, 0, kMaxTtlMs);
    table_.bucket(h).ApplyGrant(*rule, sent_at,
                                std::max<int64_t>(item.tokens, 0),
                                ttl_ms * kNanosPerMilli, now, ctx_);
    ++applied;
  }
  return applied;
}

size_t Checker::CountLeased(int64_t now) const {
  size_t leased = 0;
  for (size_t i = 0; i < table_.size(); ++i) {
    if (table_.bucket(static_cast<BucketTable::Handle>(i)).has_lease(now)) {
      ++leased;
    }
  }
  return leased;
}

}  // namespace sluice
