#include "common/local_bucket.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/clock.h"

namespace sluice {
namespace {

constexpr int64_t kClosedRetryMillis = 1000;
constexpr int64_t kMinDemandWindowNanos = 100 * kNanosPerMilli;
// A contended bucket spreads each grant over this long (the agent's refresh
// cadence, LeaseTiming::min_interval_ns by default): see UsableLeaseTokens.
constexpr int64_t kLeasePaceNanos = 50 * kNanosPerMilli;
// A bucket holding a lease decides from its safe share once its last
// request is this old: the controller reserves an agent's share of the
// refill as credit for it this long (AllocatorOptions::credit_horizon_ns)
// and hands it over with the next grant; after, it is nobody's until
// someone asks. Before, the safe share may admit up to one more grant's
// worth per request (see ShareBehindLease).
constexpr int64_t kShareBehindLeaseNanos = 200 * kNanosPerMilli;
// Floating-point slack: amounts this close to a whole count are that count.
constexpr double kEpsilon = 1e-6;

int64_t Agents(const LeaseContext& ctx) {
  return std::max<int64_t>(1, ctx.agents);
}

int64_t ClampToInt64(double value) {
  if (!(value > 0)) return 0;
  if (value >= static_cast<double>(std::numeric_limits<int64_t>::max())) {
    return std::numeric_limits<int64_t>::max();
  }
  return static_cast<int64_t>(value);
}

// Whole tokens in a (possibly fractional, possibly negative) balance.
int64_t WholeTokens(double tokens) {
  return ClampToInt64(std::floor(tokens + kEpsilon));
}

// Milliseconds (rounded up) for `tokens` to accrue at the rule's rate
// divided among `agents`.
int64_t MillisToAccrue(double tokens, const Rule& rule, int64_t agents) {
  if (!(tokens > 0) || rule.limit <= 0) return 0;
  double millis = tokens * static_cast<double>(rule.period_ms) *
                  static_cast<double>(agents) / static_cast<double>(rule.limit);
  return ClampToInt64(std::ceil(millis - kEpsilon));
}

// Nanoseconds (rounded up) for `tokens` to accrue at the rule's rate divided
// among `agents`.
int64_t NanosToAccrue(double tokens, const Rule& rule, int64_t agents) {
  if (!(tokens > 0) || rule.limit <= 0) return 0;
  double nanos = tokens * static_cast<double>(rule.period_ms) *
                 static_cast<double>(kNanosPerMilli) *
                 static_cast<double>(agents) / static_cast<double>(rule.limit);
  return ClampToInt64(std::ceil(nanos - kEpsilon));
}

// Nanoseconds to milliseconds, rounded up but forgiving up to 1 µs of
// floating-point error (so 500000001 ns reads as 500 ms). -1 stays -1.
int64_t NanosToMillis(int64_t nanos) {
  if (nanos < 0) return -1;
  if (nanos <= 1000) return 0;
  return (nanos - 1000 + kNanosPerMilli - 1) / kNanosPerMilli;
}

// The rule's whole bucket: the safe share of one agent out of `agents` is
// 1/agents of it (the header's "at the rule's scale").
TokenBucketShape RuleShape(const Rule& rule) {
  return TokenBucketShape{static_cast<double>(std::max<int64_t>(0, rule.burst)),
                          rule.RatePerNano()};
}

uint32_t ClampCount(int64_t value) {
  return static_cast<uint32_t>(
      std::clamp<int64_t>(value, 0, LocalBucket::kMaxCount));
}

}  // namespace

LocalBucket::LocalBucket(const Rule& rule, int64_t now,
                         const LeaseContext& /*ctx*/)
    : share_(RuleShape(rule), now),
      window_start_(now),
      old_gap_units_(0),
      contended_(0),
      in_flight_(0),
      requested_(0),
      retry_queue_millis_(0) {}

void LocalBucket::AddCount(uint32_t* counter, int64_t amount) {
  if (amount <= 0) return;
  *counter = ClampCount(int64_t{*counter} + std::min(amount, kMaxCount));
}

LocalBucket::Source LocalBucket::SourceFor(const Rule& rule, int64_t now,
                                           const LeaseContext& ctx) const {
  if (has_lease(now)) return Source::kLease;
  if (ctx.controller_reachable || rule.failure_mode == FailureMode::kLocal) {
    return Source::kSafeShare;
  }
  return rule.failure_mode == FailureMode::kOpen ? Source::kOpen
                                                 : Source::kClosed;
}

int64_t LocalBucket::LeaseTokens(int64_t now) const {
  int64_t tokens = 0;
  if (now < old_expiry()) tokens += old_tokens_;
  if (now < lease_expiry_) tokens += lease_tokens_;
  return tokens;
}

int64_t LocalBucket::UsableLeaseTokens(int64_t now) const {
  const int64_t tokens = LeaseTokens(now);
  // Only while the bucket refuses (its demand exceeds what it is granted),
  // and once the grant for the last request is in.
  if ((refused_ == 0 && !contended_) || in_flight_ || !requested_) {
    return tokens;
  }
  const int64_t elapsed = now - window_start_;
  if (elapsed < 0 || elapsed >= kLeasePaceNanos) return tokens;
  const int64_t locked =
      static_cast<int64_t>(static_cast<double>(last_grant_) *
                           static_cast<double>(kLeasePaceNanos - elapsed) /
                           static_cast<double>(kLeasePaceNanos));
  return std::max<int64_t>(0, tokens - locked);
}

void LocalBucket::SpendLease(int64_t now, int64_t cost) {
  if (now < old_expiry()) {
    const int64_t from_old = std::min<int64_t>(cost, old_tokens_);
    old_tokens_ -= static_cast<uint32_t>(from_old);
    cost -= from_old;
  }
  if (now < lease_expiry_) lease_tokens_ = ClampCount(lease_tokens_ - cost);
}

void LocalBucket::SetOldLease(int64_t tokens, int64_t expiry) {
  old_tokens_ = 0;
  old_gap_units_ = 0;
  if (tokens <= 0) return;
  // Rounded up: the earlier tokens may die up to one unit early, never late.
  const int64_t gap_units =
      (lease_expiry_ - expiry + kOldGapUnitNanos - 1) / kOldGapUnitNanos;
  if (gap_units < 0 || gap_units > kMaxOldGapUnits) return;  // dropped
  old_tokens_ = ClampCount(tokens);
  old_gap_units_ = static_cast<uint32_t>(gap_units);
}

bool LocalBucket::ShareUsable(const Rule& rule, const LeaseContext& ctx) {
  return ctx.controller_reachable || rule.failure_mode == FailureMode::kLocal;
}

bool LocalBucket::ShareBehindLease(int64_t now, int64_t cost) const {
  return !requested_ || now - window_start_ >= kShareBehindLeaseNanos ||
         int64_t{unleased_} + cost <= int64_t{last_grant_};
}

bool LocalBucket::ShareCanTake(const Rule& rule, int64_t now, int64_t cost,
                               int64_t agents, Decision* d) {
  const TokenBucketShape shape = RuleShape(rule);
  const double share = static_cast<double>(agents);
  const double c = static_cast<double>(cost);
  const int64_t wait = share_.NanosUntilAvailable(shape, now, c * share);
  d->remaining = WholeTokens(share_.Available(shape, now) / share);
  d->reset_after_ms =
      std::max<int64_t>(0, NanosToMillis(share_.NanosUntilFull(shape, now)));
  if (wait == 0) return true;
  // More than the safe share can ever hold: only a lease can admit it.
  const int64_t millis =
      wait > 0 ? NanosToMillis(wait) : MillisToAccrue(c, rule, agents);
  d->retry_after_ms = std::max<int64_t>(1, millis);
  return false;
}

bool LocalBucket::CanTake(const Rule& rule, int64_t now, int64_t cost,
                          const LeaseContext& ctx, Decision* d) {
  const int64_t agents = Agents(ctx);
  if (cost > 0) {
    last_cost_ = ClampCount(std::max<int64_t>(1, std::min(cost, rule.burst)));
  }
  d->limit = rule.limit;
  d->retry_after_ms = 0;
  bool allowed = false;
  switch (SourceFor(rule, now, ctx)) {
    case Source::kLease: {
      const int64_t tokens = UsableLeaseTokens(now);
      allowed = cost <= tokens;
      if (!allowed && ShareUsable(rule, ctx) && ShareBehindLease(now, cost)) {
        // The lease ran dry and no grant is due: the safe share decides.
        allowed = ShareCanTake(rule, now, cost, agents, d);
        d->remaining += tokens;
        break;
      }
      d->remaining = tokens;
      d->reset_after_ms =
          MillisToAccrue(static_cast<double>(rule.burst - tokens), rule, 1);
      if (!allowed) {
        d->retry_after_ms = std::max<int64_t>(
            1, MillisToAccrue(static_cast<double>(cost), rule, agents));
      }
      break;
    }
    case Source::kSafeShare:
      allowed = ShareCanTake(rule, now, cost, agents, d);
      break;
    case Source::kOpen:
      allowed = true;
      d->remaining = rule.burst;
      d->reset_after_ms = 0;
      break;
    case Source::kClosed:
      allowed = false;
      d->remaining = 0;
      d->reset_after_ms = kClosedRetryMillis;
      d->retry_after_ms = kClosedRetryMillis;
      break;
  }
  if (cost > rule.burst) {
    allowed = false;
    d->retry_after_ms = -1;
  }
  d->allowed = allowed;
  if (allowed) d->retry_after_ms = 0;
  return allowed;
}

void LocalBucket::TakeFromShare(const Rule& rule, int64_t now, int64_t cost,
                                const LeaseContext& ctx, Decision* d) {
  const TokenBucketShape shape = RuleShape(rule);
  const double share = static_cast<double>(Agents(ctx));
  share_.Debit(shape, now, static_cast<double>(cost) * share);
  AddCount(&admitted_, cost);
  AddCount(&unleased_, cost);
  d->remaining = WholeTokens(share_.Available(shape, now) / share);
  d->reset_after_ms =
      std::max<int64_t>(0, NanosToMillis(share_.NanosUntilFull(shape, now)));
}

void LocalBucket::Take(const Rule& rule, int64_t now, int64_t cost,
                       const LeaseContext& ctx, Decision* d) {
  if (cost <= 0) return;
  switch (SourceFor(rule, now, ctx)) {
    case Source::kLease: {
      int64_t tokens = UsableLeaseTokens(now);
      if (cost > tokens) {  // CanTake admitted it from the safe share
        TakeFromShare(rule, now, cost, ctx, d);
        d->remaining += tokens;
        break;
      }
      SpendLease(now, cost);
      // What a lease admits is the agent's share of the budget too: the
      // safe share must not admit it again behind the lease.
      share_.Drain(
          RuleShape(rule), now,
          static_cast<double>(cost) * static_cast<double>(Agents(ctx)));
      AddCount(&admitted_, cost);
      tokens = UsableLeaseTokens(now);
      d->remaining = tokens;
      d->reset_after_ms =
          MillisToAccrue(static_cast<double>(rule.burst - tokens), rule, 1);
      break;
    }
    case Source::kSafeShare:
      TakeFromShare(rule, now, cost, ctx, d);
      break;
    case Source::kOpen:
      AddCount(&admitted_, cost);
      AddCount(&unleased_, cost);
      d->remaining = rule.burst;
      break;
    case Source::kClosed:
      break;  // CanTake refused: nothing was admitted
  }
}

void LocalBucket::Refuse(const Rule& rule, int64_t now, int64_t cost,
                         const LeaseContext& ctx, Decision* d) {
  AddCount(&refused_, cost);
  if (d->retry_after_ms <= 0 || cost <= 0 || rule.limit <= 0) return;
  const Source source = SourceFor(rule, now, ctx);
  if (source != Source::kLease && source != Source::kSafeShare) return;
  // One refused check's turn: `cost` tokens of the agent's share of the
  // refill. The queue holds at most the share's refill of one burst.
  const int64_t agents = Agents(ctx);
  const int64_t step = NanosToAccrue(static_cast<double>(cost), rule, agents);
  // The wait CanTake computed is never shortened: no turn comes before
  // the tokens could be there.
  const int64_t wait = d->retry_after_ms * kNanosPerMilli;
  const int64_t cap = std::max(
      wait,
      std::min(kMaxRetryQueueMillis * kNanosPerMilli,
               std::max(step, NanosToAccrue(static_cast<double>(rule.burst),
                                            rule, agents))));
  const int64_t queue_end = retry_queue_millis_ == 0 ? 0 : RetryQueueEnd();
  int64_t at = now + wait;
  if (queue_end > now) at = std::max(at, std::min(queue_end + step, now + cap));
  SetRetryQueueEnd(at);
  d->retry_after_ms = std::max<int64_t>(1, NanosToMillis(at - now));
}

void LocalBucket::SetRetryQueueEnd(int64_t end) {
  // Whole milliseconds after the window start, rounded up; 0: none.
  const int64_t millis =
      (end - window_start_ + kNanosPerMilli - 1) / kNanosPerMilli;
  retry_queue_millis_ = static_cast<uint32_t>(
      end <= window_start_
          ? 0
          : std::clamp<int64_t>(millis, 1, kMaxRetryQueueMillis));
}

void LocalBucket::Reconfigure(const Rule& before, const Rule& after,
                              int64_t now) {
  share_.Reshape(RuleShape(before), RuleShape(after), now);
  // Leased tokens beyond the new burst are given up (older ones first).
  const int64_t excess =
      int64_t{lease_tokens_} + int64_t{old_tokens_} - after.burst;
  if (excess > 0) {
    const int64_t from_old = std::min<int64_t>(excess, old_tokens_);
    old_tokens_ -= static_cast<uint32_t>(from_old);
    lease_tokens_ = ClampCount(lease_tokens_ - (excess - from_old));
  }
  last_cost_ = ClampCount(
      std::max<int64_t>(1, std::min<int64_t>(last_cost_, after.burst)));
}

bool LocalBucket::DecidedLocally(const Rule& rule, int64_t now) const {
  if (has_lease(now) || refused_ > 0) return false;
  const TokenBucketShape shape = RuleShape(rule);
  TokenBucketState share = share_;  // refilled on a copy: this is a query
  return share.Available(shape, now) * 2 >= shape.capacity;
}

bool LocalBucket::NeedsLease(const Rule& rule, int64_t now,
                             const LeaseTiming& timing, const LeaseContext& ctx,
                             int64_t* want) const {
  const int64_t demand = int64_t{admitted_} + int64_t{refused_};
  if (demand <= 0) return false;
  if (in_flight_ && now - window_start_ < timing.request_timeout_ns) {
    return false;
  }
  if (requested_ && now - window_start_ < timing.min_interval_ns) {
    return false;
  }
  if (timing.decide_locally && DecidedLocally(rule, now)) {
    // A report only: once half of the share's capacity was admitted
    // unreported, or the window is old.
    *want = 0;
    return int64_t{unleased_} * 2 * Agents(ctx) >= rule.burst ||
           now - window_start_ >= timing.quiet_report_ns;
  }
  const int64_t tokens = LeaseTokens(now);
  const bool low =
      !has_lease(now) || lease_expiry_ - now <= timing.refresh_margin_ns ||
      tokens * 2 < int64_t{last_grant_} || tokens < int64_t{last_cost_};
  if (!low) return false;
  // The horizon a grant should cover. A window longer than half of it (a
  // bucket used again after an idle spell) counts as half of it: demand
  // comes back in bursts, and what the last window used is a better guess
  // of the next burst than its average over the idle time, which would ask
  // for too little and run dry within the burst. Twice what it used keeps
  // a burst like the last one above the renewal threshold (half a grant).
  const double horizon = 2.0 * static_cast<double>(timing.refresh_margin_ns);
  const double window =
      std::min(horizon / 2, static_cast<double>(std::max(
                                now - window_start_, kMinDemandWindowNanos)));
  double wanted =
      std::ceil(static_cast<double>(demand) / window * horizon - kEpsilon);
  wanted = std::max(wanted, static_cast<double>(last_cost_));
  wanted = std::min(wanted, static_cast<double>(rule.burst));
  *want = ClampToInt64(wanted);
  return true;
}

bool LocalBucket::NeedsSweepLease(const Rule& rule, int64_t now,
                                  const LeaseTiming& timing,
                                  const LeaseContext& ctx,
                                  int64_t* want) const {
  if (refused_ == 0 && unleased_ == 0 && requested_ &&
      now - window_start_ < timing.quiet_report_ns) {
    return false;
  }
  return NeedsLease(rule, now, timing, ctx, want);
}

bool LocalBucket::ReportMoot(const Rule& rule, int64_t now,
                             const LeaseTiming& timing,
                             const LeaseContext& ctx) const {
  if (!timing.decide_locally || Agents(ctx) != 1) return false;
  if (admitted_ == 0 && unleased_ == 0) return false;  // nothing to report
  if (in_flight_ && now - window_start_ < timing.request_timeout_ns) {
    return false;
  }
  if (now - window_start_ < timing.quiet_report_ns) return false;
  if (has_lease(now) || refused_ > 0) return false;
  TokenBucketState share = share_;  // refilled on a copy: this is a query
  return share.NanosUntilFull(RuleShape(rule), now) == 0;
}

void LocalBucket::MarkRequested(int64_t now, int64_t* admitted,
                                int64_t* refused, int64_t* unleased) {
  MarkSent(now, admitted, refused, unleased);
  in_flight_ = 1;
}

void LocalBucket::MarkReported(int64_t now, int64_t* admitted, int64_t* refused,
                               int64_t* unleased) {
  MarkSent(now, admitted, refused, unleased);
  in_flight_ = 0;
}

void LocalBucket::MarkSent(int64_t now, int64_t* admitted, int64_t* refused,
                           int64_t* unleased) {
  *admitted = admitted_;
  *refused = refused_;
  *unleased = unleased_;
  contended_ = refused_ > 0 ? 1 : 0;
  admitted_ = refused_ = unleased_ = 0;
  const int64_t queue_end = retry_queue_millis_ == 0 ? 0 : RetryQueueEnd();
  window_start_ = now;
  SetRetryQueueEnd(queue_end);
  requested_ = 1;
}

void LocalBucket::ApplyGrant(const Rule& rule, int64_t requested_at,
                             int64_t tokens, int64_t ttl_ns, int64_t now) {
  if (!in_flight_ && tokens <= 0) return;  // the answer to a report
  if (in_flight_ && requested_at >= window_start_) in_flight_ = 0;
  tokens = std::clamp<int64_t>(tokens, 0, kMaxCount);
  last_grant_ = static_cast<uint32_t>(tokens);
  if (ttl_ns <= 0 && has_lease(now) && LeaseTokens(now) == 0) {
    // No lease (a held, unowned or fenced bucket; a restart's learning):
    // the controller keeps no credit for this agent, so a spent lease,
    // worth nothing, must not keep the safe share shut until it expires
    // (ShareBehindLease). It ends here.
    lease_expiry_ = now;
    old_tokens_ = 0;
  }
  if (ttl_ns <= 0 ||
      requested_at > std::numeric_limits<int64_t>::max() - ttl_ns) {
    return;
  }
  const int64_t expiry = requested_at + ttl_ns;
  if (expiry <= now) return;  // dead on arrival
  // The grant holds this agent's credit, its share of the refill until
  // about now: the safe share starts again from empty, so that what it
  // admits until the next grant is the share of the refill since this one.
  if (tokens > 0) {
    const TokenBucketShape shape = RuleShape(rule);
    share_.TakeUpTo(shape, now, shape.capacity);
  }

  // Tokens admitted from the safe share while this request was in flight
  // are paid for out of the grant: they were admitted in the grant's window,
  // and netting them here keeps a single agent exact instead of admitting
  // the safe share on top of the lease.
  const int64_t netted = std::min<int64_t>(tokens, unleased_);
  tokens -= netted;
  unleased_ -= static_cast<uint32_t>(netted);

  struct Slot {
    int64_t tokens;
    int64_t expiry;
  };
  // An empty earlier slot is no slot (its gap is meaningless).
  Slot slots[3] = {{old_tokens_, old_tokens_ > 0 ? old_expiry() : 0},
                   {lease_tokens_, lease_expiry_},
                   {tokens, expiry}};
  // The slot that expires last becomes the lease (on a tie, the later
  // slot: the earlier one never outlives the lease, invariant 1); whatever
  // is left of the others is kept under the earliest of their expiries, so
  // no token outlives the window it was granted for.
  int latest = 2;
  for (int i : {1, 0}) {
    if (slots[i].expiry > slots[latest].expiry) latest = i;
  }
  int64_t merged_tokens = 0;
  int64_t merged_expiry = 0;
  for (int i = 0; i < 3; ++i) {
    if (i == latest || slots[i].expiry <= now || slots[i].tokens <= 0) {
      continue;
    }
    merged_tokens += slots[i].tokens;
    merged_expiry = merged_expiry == 0
                        ? slots[i].expiry
                        : std::min(merged_expiry, slots[i].expiry);
  }
  lease_tokens_ = ClampCount(slots[latest].tokens);
  lease_expiry_ = slots[latest].expiry;
  SetOldLease(merged_tokens, merged_expiry);
}

bool LocalBucket::Idle(const Rule& rule, int64_t now,
                       const LeaseTiming& timing) {
  if (in_flight_ && now - window_start_ < timing.request_timeout_ns) {
    return false;
  }
  return !has_lease(now) && admitted_ == 0 && refused_ == 0 && unleased_ == 0 &&
         share_.NanosUntilFull(RuleShape(rule), now) == 0;
}

static_assert(sizeof(LocalBucket) == 64,
              "LocalBucket is sized for agent/check/bucket_table.h's entries");

}  // namespace sluice
