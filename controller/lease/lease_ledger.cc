#include "controller/lease/lease_ledger.h"

#include <algorithm>
#include <utility>

#include "common/bucket_key.h"
#include "common/clock.h"

namespace sluice {
namespace {

// The sweep: one slice of 1/kSweepSlices of the table every
// kSweepIntervalNanos, so the whole table about once a second.
constexpr int64_t kSweepIntervalNanos = 20 * kNanosPerMilli;
constexpr size_t kSweepSlices = 50;
// An agent silent in a bucket for this long (at least; and twice the lease
// ttl) with no lease outstanding there is forgotten by that bucket.
constexpr int64_t kBucketAgentForgetNanos = 5 * kNanosPerSecond;

size_t WildcardCount(const Rule& rule) {
  return static_cast<size_t>(
      std::count_if(rule.match.begin(), rule.match.end(),
                    [](const auto& kv) { return kv.second == kWildcard; }));
}

AllocatorOptions AllocatorOptionsFor(int64_t lease_ttl_ms) {
  AllocatorOptions options;
  options.lease_ttl_ns = lease_ttl_ms * kNanosPerMilli;
  options.forget_after_ns =
      std::max(kBucketAgentForgetNanos, 2 * options.lease_ttl_ns);
  return options;
}

std::map<int64_t, Rule> RulesById(std::vector<Rule> rules) {
  std::map<int64_t, Rule> by_id;
  for (Rule& rule : rules) {
    const int64_t id = rule.id;
    by_id.emplace(id, std::move(rule));
  }
  return by_id;
}

}  // namespace

LeaseLedger::LeaseLedger(LeaseLedgerOptions options, int64_t now,
                         int64_t rules_version, std::vector<Rule> rules)
    : options_(std::move(options)),
      allocator_options_(AllocatorOptionsFor(options_.lease_ttl_ms)),
      learning_until_(now + options_.learning_ms * kNanosPerMilli),
      rules_version_(rules_version),
      rules_(RulesById(std::move(rules))),
      cluster_(options_.member_id, options_.lease_ttl_ms,
               options_.cluster_timings),
      next_sweep_(now + kSweepIntervalNanos) {
  // Budgets made while learning drop the refill nobody claims until it
  // ends; those made later never accrue that early.
  allocator_options_.drop_unclaimed_until_ns = learning_until_;
  held_allocator_options_ = allocator_options_;
  CountBudgets();  // zero; the first pass is not published either
}

// --- Agents ---

StatusOr<Arrival> LeaseLedger::OnHello(const std::string& peer,
                                       const Hello& hello, int64_t now,
                                       std::string_view curve_key) {
  if (hello.protocol != kProtocolVersion) {
    return Status::InvalidArgument(
        "protocol " + std::to_string(hello.protocol) +
        " is not supported; this controller speaks protocol " +
        std::to_string(kProtocolVersion));
  }
  bool is_new = false;
  AgentRecord& agent = agents_.Touch(peer, now, curve_key, &is_new);
  if (is_new) AgentCountChanged();
  agent.agent_id = hello.agent_id;
  auto weight = options_.agent_weights.find(hello.agent_id);
  agent.weight = weight != options_.agent_weights.end() && weight->second > 0
                     ? weight->second
                     : 1.0;
  return is_new ? Arrival::kNew : Arrival::kKnown;
}

Arrival LeaseLedger::OnMessageFrom(const std::string& peer, int64_t now,
                                   std::string_view curve_key) {
  bool is_new = false;
  agents_.Touch(peer, now, curve_key, &is_new);
  if (!is_new) return Arrival::kKnown;
  AgentCountChanged();
  return Arrival::kNew;
}

bool LeaseLedger::Forget(const std::string& peer, int64_t now,
                         std::string* agent_id) {
  AgentRecord gone;
  if (!agents_.Remove(peer, &gone)) return false;
  AgentCountChanged();
  // Its demand and shares go; its leases stay outstanding until expiry.
  budgets_.ForEach([&](std::string_view /*key*/, Budget& budget) {
    budget.allocator.Forget(gone.number, now);
  });
  CountBudgets();
  if (agent_id != nullptr) *agent_id = std::move(gone.agent_id);
  return true;
}

void LeaseLedger::AgentCountChanged() {
  agent_count_changed_ = true;
  counts_.agents = static_cast<int64_t>(agents_.size());
}

void LeaseLedger::AppendPeers(std::vector<std::string>* out) const {
  out->reserve(out->size() + agents_.size());
  agents_.ForEach([&](const std::string& peer, const AgentRecord& /*agent*/) {
    out->push_back(peer);
  });
}

// --- Leases ---

bool LeaseLedger::OnLeaseRequest(const std::string& peer, LeaseRequest& request,
                                 int64_t now, LeaseGrant* grant) {
  const AgentRecord* agent = agents_.Find(peer);
  if (agent == nullptr) return false;
  grant->seq = request.seq;
  const size_t n = request.items.size();
  grant->items.resize(n);
  PrepareScratch(n);
  // Keys and slot prefetches, entry prefetches, then the work.
  for (size_t i = 0; i < n; ++i) {
    LeaseWant& want = request.items[i];
    LeaseGrantItem& out = grant->items[i];
    out.rule_id = want.rule_id;
    out.values = std::move(want.values);
    out.tokens = 0;
    out.ttl_ms = options_.lease_ttl_ms;
    ResolveItem(i, out.rule_id, out.values);
  }
  PrefetchBudgets(n);
  int64_t granted = 0;
  answered_unowned_ = false;
  size_t kept = 0;  // reports are answered with no item
  for (size_t i = 0; i < n; ++i) {
    const LeaseWant& want = request.items[i];
    LeaseGrantItem& out = grant->items[i];
    const bool report = want.want <= 0;
    if (item_rules_[i] != nullptr && !GateItem(i, *agent, want, now, &out)) {
      if (report) {
        BudgetOfItem(i, now).allocator.Report(agent->number, now,
                                              ReportOf(want, *agent));
      } else {
        granted += GrantItem(i, *agent, want, now, &out);
      }
    }
    if (report) {
      ++counts_.lease_reports;
      continue;
    }
    if (kept != i) grant->items[kept] = std::move(out);
    ++kept;
  }
  grant->items.resize(kept);
  ++counts_.lease_requests;
  counts_.tokens_granted += granted;
  return true;
}

void LeaseLedger::PrepareScratch(size_t n) {
  item_rules_.assign(n, nullptr);
  if (item_keys_.size() < n) item_keys_.resize(n);
  item_hashes_.resize(n);
}

void LeaseLedger::ResolveItem(size_t i, int64_t rule_id,
                              const std::vector<std::string>& values) {
  auto rule = rules_.find(rule_id);
  // Unknown or disabled rule, or values that do not fit it: nothing.
  if (rule == rules_.end() || !rule->second.enabled ||
      values.size() != WildcardCount(rule->second)) {
    return;
  }
  item_rules_[i] = &rule->second;
  MakeBucketKey(rule_id, values, &item_keys_[i]);
  item_hashes_[i] = BudgetTable::Hash(item_keys_[i]);
  budgets_.Prefetch(item_hashes_[i]);
}

void LeaseLedger::PrefetchBudgets(size_t n) const {
  for (size_t i = 0; i < n; ++i) {
    if (item_rules_[i] != nullptr) {
      budgets_.PrefetchEntry(item_keys_[i], item_hashes_[i]);
    }
  }
}

Budget& LeaseLedger::BudgetOfItem(size_t i, int64_t now, bool held) {
  const Rule& rule = *item_rules_[i];
  Budget* budget = budgets_.Find(item_keys_[i], item_hashes_[i]);
  if (budget == nullptr) {
    // While learning, a previous incarnation may have leased the whole
    // burst: start empty, and keep no refill nobody claims.
    // So may the previous owner of a bucket held after an adoption.
    const bool learning_now = learning(now) || held;
    const auto start = learning_now ? BucketAllocator::Start::kEmpty
                                    : BucketAllocator::Start::kFull;
    budget =
        budgets_.Insert(item_keys_[i], item_hashes_[i],
                        Budget{BucketAllocator(rule, now,
                                               held ? &held_allocator_options_
                                                    : &allocator_options_,
                                               start),
                               rule.version, MilliStamp(now), MilliStamp(now)});
  }
  budget->used_ms = MilliStamp(now);
  if (budget->rule_version != rule.version) {
    budget->allocator.Reconfigure(rule, now);
    budget->rule_version = rule.version;
  }
  return *budget;
}

int64_t LeaseLedger::GrantItem(size_t i, const AgentRecord& agent,
                               const LeaseWant& want, int64_t now,
                               LeaseGrantItem* out) {
  Budget& budget = BudgetOfItem(i, now);
  const LeaseOffer offer =
      budget.allocator.Grant(agent.number, now, ReportOf(want, agent));
  out->tokens = offer.tokens;
  // While learning, no tokens for an agent that refused nothing means no
  // lease at all (ttl 0): it keeps its old lease or its safe share (a cold
  // bucket stays usable). An agent that refuses gets the empty lease: its
  // safe share would only add to what old leases may admit.
  if (learning(now) && out->tokens == 0 && want.refused <= 0) out->ttl_ms = 0;
  return out->tokens;
}

LeaseReport LeaseLedger::ReportOf(const LeaseWant& want,
                                  const AgentRecord& agent) {
  LeaseReport report;
  report.want = want.want;
  report.admitted = want.admitted;
  report.refused = want.refused;
  report.unleased = want.unleased;
  report.weight = agent.weight;
  return report;
}

Budget* LeaseLedger::FindBudget(int64_t rule_id,
                                const std::vector<std::string>& values) {
  const std::string key = MakeBucketKey(rule_id, values);
  return budgets_.Find(key, BudgetTable::Hash(key));
}

// --- Rules ---

RulesDelta LeaseLedger::OnCatalogChange(int64_t version,
                                        std::vector<Rule> rules, int64_t now) {
  RulesDelta delta;
  delta.base_version = rules_version_;
  delta.version = version;
  std::map<int64_t, Rule> next = RulesById(std::move(rules));
  for (const auto& [id, rule] : next) {
    auto old = rules_.find(id);
    if (old == rules_.end() || old->second != rule) {
      delta.upserts.push_back(rule);
    }
  }
  for (const auto& entry : rules_) {
    if (next.count(entry.first) == 0) delta.deletes.push_back(entry.first);
  }
  rules_ = std::move(next);
  rules_version_ = version;
  ReconcileBudgets(now);
  return delta;
}

void LeaseLedger::ReconcileBudgets(int64_t now) {
  for (size_t i = 0; i < budgets_.capacity();) {
    Budget* budget = budgets_.At(i);
    if (budget == nullptr) {
      ++i;
      continue;
    }
    auto rule = rules_.find(BucketKeyRuleId(budgets_.KeyAt(i)));
    if (rule == rules_.end() || !rule->second.enabled) {
      budgets_.EraseAt(i);  // a later budget may now be at i
      continue;
    }
    if (budget->rule_version != rule->second.version) {
      budget->allocator.Reconfigure(rule->second, now);
      budget->rule_version = rule->second.version;
    }
    ++i;
  }
}

RulesSnapshot LeaseLedger::Snapshot() const {
  RulesSnapshot snapshot;
  snapshot.version = rules_version_;
  snapshot.agents = static_cast<int64_t>(agents_.size());
  snapshot.rules.reserve(rules_.size());
  for (const auto& entry : rules_) snapshot.rules.push_back(entry.second);
  return snapshot;
}

Heartbeat LeaseLedger::HeartbeatReply() const {
  Heartbeat beat;
  beat.rules_version = rules_version_;
  beat.agents = static_cast<int64_t>(agents_.size());
  beat.controllers_version = cluster_.version();
  return beat;
}

// --- Time ---

TickOutcome LeaseLedger::Tick(int64_t now) {
  TickOutcome outcome;
  std::vector<std::string> silent;
  agents_.AppendSilent(now, options_.agent_timeout_ms * kNanosPerMilli,
                       &silent);
  for (std::string& peer : silent) {
    ForgottenAgent gone;
    Forget(peer, now, &gone.agent_id);
    gone.peer = std::move(peer);
    outcome.forgotten.push_back(std::move(gone));
  }
  outcome.agent_count_changed = agent_count_changed_;
  agent_count_changed_ = false;
  SweepIfDue(now);
  return outcome;
}

void LeaseLedger::SweepIfDue(int64_t now) {
  if (now < next_sweep_) return;
  // One slice per interval gone by (a late call catches up, at most a whole
  // pass at once).
  const int64_t due = 1 + (now - next_sweep_) / kSweepIntervalNanos;
  SweepBudgets(now, static_cast<size_t>(std::min<int64_t>(
                        due, static_cast<int64_t>(kSweepSlices))));
  next_sweep_ = now + kSweepIntervalNanos;
}

void LeaseLedger::SweepBudgets(int64_t now, size_t slices) {
  // A budget can only become idle (no agent left: each is forgotten after
  // forget_after_ns of silence) that long after its last request, and the
  // silent agents of a budget still in use need dropping about as rarely:
  // a budget swept or used within that time is passed over, without
  // touching its allocator. A growth of the table while a pass is under
  // way may make it visit some budgets twice or miss them once; the next
  // pass sees them.
  const int64_t quiet = allocator_options_.forget_after_ns;
  const size_t positions = budgets_.capacity();
  const size_t slice = (positions + kSweepSlices - 1) / kSweepSlices;
  for (size_t visited = 0; visited < slice * slices; ++visited) {
    if (sweep_cursor_ >= positions) {  // a pass ended
      if (pass_counts_valid_) {
        counts_.buckets = static_cast<int64_t>(budgets_.size());
        counts_.bucket_agents = pass_pairs_;
      }
      sweep_cursor_ = 0;
      pass_pairs_ = 0;
      pass_counts_valid_ = true;
    }
    Budget* budget = budgets_.At(sweep_cursor_);
    if (budget != nullptr) {
      if (MillisSince(now, budget->swept_ms) * kNanosPerMilli >= quiet ||
          MillisSince(now, budget->used_ms) * kNanosPerMilli >= quiet) {
        budget->allocator.Sweep(now);
        budget->swept_ms = MilliStamp(now);
        // Idle: no agent, nothing leased, full; a new one would be the same.
        if (budget->allocator.Idle(now)) {
          budgets_.EraseAt(sweep_cursor_);  // a later budget may now be here
          continue;
        }
      }
      pass_pairs_ += static_cast<int64_t>(budget->allocator.agent_count());
    }
    ++sweep_cursor_;
  }
}

void LeaseLedger::CountBudgets() {
  int64_t pairs = 0;
  budgets_.ForEach([&](std::string_view /*key*/, Budget& budget) {
    pairs += static_cast<int64_t>(budget.allocator.agent_count());
  });
  counts_.buckets = static_cast<int64_t>(budgets_.size());
  counts_.bucket_agents = pairs;
  pass_counts_valid_ = false;  // the pass under way counted before
}

}  // namespace sluice
