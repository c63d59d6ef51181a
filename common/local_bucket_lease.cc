// LocalBucket's lease exchange: whether a bucket needs a lease or only a
// report (or nothing: decided locally, or a report nobody needs), marking
// what was sent, applying a grant, and when a bucket may be evicted. The
// decisions themselves: local_bucket.cc.
#include <algorithm>
#include <cmath>

#include "common/local_bucket.h"
#include "common/local_bucket_internal.h"

namespace sluice {

using local_bucket_internal::Agents;
using local_bucket_internal::ClampCount;
using local_bucket_internal::ClampToInt64;
using local_bucket_internal::kCreditHorizonNanos;
using local_bucket_internal::kEpsilon;
using local_bucket_internal::kMinDemandWindowNanos;
using local_bucket_internal::RuleShape;

bool LocalBucket::DecidedLocally(const Rule& rule, int64_t now) const {
  if (has_lease(now) || refused_ > 0) return false;
  const TokenBucketShape shape = RuleShape(rule);
  TokenBucketState share = share_;  // refilled on a copy: this is a query
  return share.Available(shape, now) * 2 >= shape.capacity;
}

bool LocalBucket::NeedsLease(const Rule& rule, int64_t now,
                             const LeaseTiming& timing, const LeaseContext& ctx,
                             int64_t* want) const {
  return WantsLease(rule, now, timing, ctx, /*by_sweep=*/false, want);
}

bool LocalBucket::WantsLease(const Rule& rule, int64_t now,
                             const LeaseTiming& timing, const LeaseContext& ctx,
                             bool by_sweep, int64_t* want) const {
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
    // unreported, or the window is old (the only agent's quiet report is
    // the sweep's, which drops it when moot: ReportMoot).
    *want = 0;
    return int64_t{unleased_} * 2 * Agents(ctx) >= rule.burst ||
           (now - window_start_ >= timing.quiet_report_ns &&
            (by_sweep || Agents(ctx) > 1));
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
  return WantsLease(rule, now, timing, ctx, /*by_sweep=*/true, want);
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
  // Refusals make the bucket contended (its grants are paced) only when
  // its report window was a contended bucket's, shorter than the credit
  // horizon: refusals counted over a longer window are old news (a burst
  // refused in part, then a pause), and pacing the grant of the next
  // burst would refuse that burst what the budget holds for it.
  contended_ =
      refused_ > 0 && now - window_start_ < kCreditHorizonNanos ? 1 : 0;
  admitted_ = refused_ = unleased_ = 0;
  const int64_t queue_end = retry_queue_millis_ == 0 ? 0 : RetryQueueEnd();
  window_start_ = now;
  SetRetryQueueEnd(queue_end);
  requested_ = 1;
}

void LocalBucket::ApplyGrant(const Rule& rule, int64_t requested_at,
                             int64_t tokens, int64_t ttl_ns, int64_t now,
                             const LeaseContext& ctx) {
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
  // The only agent's share is the budget's: the grant's tokens drain it as
  // they are spent instead.
  if (tokens > 0 && Agents(ctx) > 1) {
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

}  // namespace sluice
