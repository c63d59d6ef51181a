#include "common/local_bucket.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/clock.h"
#include "common/local_bucket_internal.h"

namespace sluice {
namespace {

using local_bucket_internal::Agents;
using local_bucket_internal::ClampCount;
using local_bucket_internal::ClampToInt64;
using local_bucket_internal::kCreditHorizonNanos;
using local_bucket_internal::kEpsilon;
using local_bucket_internal::RuleShape;

constexpr int64_t kClosedRetryMillis = 1000;
// A contended bucket spreads each grant over this long (the agent's refresh
// cadence, LeaseTiming::min_interval_ns by default): see UsableLeaseTokens.
constexpr int64_t kLeasePaceNanos = 50 * kNanosPerMilli;

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
  // Only when the bucket was contended as it asked (MarkSent), and once
  // the grant for that request is in. Refusals while the request was in
  // flight do not count: those checks waited for this grant, which the
  // controller sized without knowing of them (a grant from a full budget
  // paced for them refused the rest of a burst the budget held).
  if (!contended_ || in_flight_ || !requested_) {
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

bool LocalBucket::ShareBehindLease(int64_t now, int64_t cost,
                                   int64_t agents) const {
  // Once the last request is older than the controller's credit horizon,
  // the agent's share of the refill is nobody's: the safe share decides.
  // Before, it may admit up to one more grant's worth per request, unless
  // no other agent shares the budget.
  return agents == 1 || !requested_ ||
         now - window_start_ >= kCreditHorizonNanos ||
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
      if (!allowed && ShareUsable(rule, ctx) &&
          ShareBehindLease(now, cost, agents)) {
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

static_assert(sizeof(LocalBucket) == 64,
              "LocalBucket is sized for agent/check/bucket_table.h's entries");

}  // namespace sluice
