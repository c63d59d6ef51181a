// LocalBucket: what one agent knows about one bucket, and the decision maths
// on it. The agent answers every check from here, without the network.
//
// Sources of tokens, in order:
//   1. A valid lease (now < lease expiry): `lease_tokens` granted by the
//      controller. They do not refill locally; they are spent, then the
//      lease is renewed in the background. They die at expiry.
//   2. No valid lease:
//      - controller reachable, or unreachable with failure_mode `local`:
//        the safe share, a local token bucket of burst/agents capacity
//        refilled at rate/agents (agents = connected agents last reported by
//        the controller, at least 1). What it admits is reported as
//        `unleased` and charged to the global bucket by the controller.
//      - unreachable with failure_mode `open`: admit everything.
//      - unreachable with failure_mode `closed`: refuse everything
//        (retry_after 1000 ms, the reconnect cadence).
//
// Reply fields (CanTake/Take) by source:
//   lease:      remaining = valid lease tokens; reset_after = time for the
//               rule's global rate to refill burst - remaining; when
//               refused, retry_after = time for `cost` tokens at
//               rate/agents (at least 1 ms).
//   safe share: the safe-share bucket's own remaining / time to full / time
//               until `cost` (or as for a lease when `cost` exceeds the safe
//               share's capacity).
//   open:       allowed, remaining = burst, reset_after 0.
//   closed:     refused, remaining 0, reset_after and retry_after 1000.
// Any source: cost > burst is refused with retry_after -1. cost 0 is
// allowed (except when closed) and takes nothing.
//
// Overshoot bound (documented in docs/leasing.md): while a bucket is cold or
// between leases, each agent admits at most its safe share (burst/agents at
// once, then rate/agents), so all agents together at most `burst` at once
// plus `rate`; the controller charges it back, so it is not admitted twice
// over long windows.
//
// Thread-compatible: the agent's event loop owns its LocalBuckets.
#pragma once

#include <cstdint>

#include "common/decision.h"
#include "common/rule.h"
#include "common/token_bucket.h"

namespace sluice {

// What the agent knows about the controller, passed to each decision.
struct LeaseContext {
  bool controller_reachable = true;
  int64_t agents = 1;  // >= 1
};

// When an agent asks for leases. Defaults are the agent's defaults.
struct LeaseTiming {
  int64_t refresh_margin_ns = 500 * 1000 * 1000;    // renew this early
  int64_t request_timeout_ns = 1000 * 1000 * 1000;  // give up on an answer
  int64_t min_interval_ns = 50 * 1000 * 1000;       // per bucket
};

class LocalBucket {
 public:
  LocalBucket(const Rule& rule, int64_t now, const LeaseContext& ctx);

  // Whether `cost` tokens could be taken at `now`, without taking them.
  // Fills the reply fields for this bucket into *d (allowed, limit,
  // remaining, reset_after_ms, retry_after_ms; retry_after_ms is -1 when
  // cost > burst).
  bool CanTake(const Rule& rule, int64_t now, int64_t cost,
               const LeaseContext& ctx, Decision* d);

  // Takes `cost` tokens (after CanTake said yes) and counts it as admitted.
  // Refreshes d->remaining.
  void Take(const Rule& rule, int64_t now, int64_t cost,
            const LeaseContext& ctx, Decision* d);

  // Counts `cost` as refused (for demand reports).
  void CountRefused(int64_t cost) { refused_ += cost; }

  // Adopts a new version of the rule: rescales the safe share.
  void Reconfigure(const Rule& rule, int64_t now, const LeaseContext& ctx);

  // --- Leasing (called by the agent's lease logic) ---

  // True when a lease request should be sent for this bucket now: it has
  // been used since the last report; its lease is missing, expired,
  // expiring within timing.refresh_margin_ns, below half of the last grant
  // or below the last cost seen; no request is in flight (or the one in
  // flight is older than timing.request_timeout_ns); and the last request
  // is at least timing.min_interval_ns old. Sets *want to the tokens to ask
  // for: the demand (admitted + refused) rate of the current report window
  // (taken as at least 100 ms long) times 2 * refresh_margin, at least the
  // last cost seen, at most burst.
  bool NeedsLease(const Rule& rule, int64_t now, const LeaseTiming& timing,
                  int64_t* want) const;

  // Marks a request as sent at `now` and returns the counters to report
  // (admitted, refused, unleased since the last report), resetting them.
  void MarkRequested(int64_t now, int64_t* admitted, int64_t* refused,
                     int64_t* unleased);

  // Applies a grant for the request sent at `requested_at`: the new lease
  // holds `tokens` until requested_at + ttl. Tokens of a previous lease
  // still valid are kept (they were granted for their own window): they
  // are spent first and die no later than their own expiry. A grant that
  // has already expired at `now` adds nothing. Unleased tokens not yet
  // reported (admitted from the safe share while the request was in flight)
  // are netted against the grant first. Clears the request in flight when
  // `requested_at` is its time.
  void ApplyGrant(int64_t requested_at, int64_t tokens, int64_t ttl_ns,
                  int64_t now);

  // True when the bucket is indistinguishable from a fresh one at `now`
  // (no valid lease, nothing to report, safe share full): it may be evicted.
  bool Idle(int64_t now);

  // Tokens held under leases, valid or not (see has_lease()).
  int64_t lease_tokens() const { return lease_tokens_ + old_tokens_; }
  // Tokens under leases valid at `now`.
  int64_t LeaseTokens(int64_t now) const;
  // When the latest lease expires (0: never leased).
  int64_t lease_expiry() const { return lease_expiry_; }
  bool has_lease(int64_t now) const { return now < lease_expiry_; }

 private:
  enum class Source { kLease, kSafeShare, kOpen, kClosed };
  Source SourceFor(const Rule& rule, int64_t now,
                   const LeaseContext& ctx) const;
  // Rescales the safe share when the number of agents changed.
  void SyncAgents(const Rule& rule, int64_t now, const LeaseContext& ctx);
  // Spends lease tokens, the earliest-expiring first.
  void SpendLease(int64_t now, int64_t cost);

  TokenBucket safe_share_;
  int64_t agents_ = 1;  // the safe share is sized for this many agents
  // The latest lease. Invariant: lease_expiry_ >= old_expiry_.
  int64_t lease_tokens_ = 0;
  int64_t lease_expiry_ = 0;  // 0: never leased
  // What is left of earlier leases still valid at the last grant; dies at
  // old_expiry_.
  int64_t old_tokens_ = 0;
  int64_t old_expiry_ = 0;
  int64_t last_grant_ = 0;
  int64_t admitted_ = 0;
  int64_t refused_ = 0;
  int64_t unleased_ = 0;
  int64_t last_cost_ = 1;      // the last cost > 0 seen, at most burst
  int64_t demand_since_ = 0;   // start of the current report window
  int64_t requested_at_ = -1;  // -1: no request in flight
  int64_t last_request_ = -1;  // when the last request was sent
};

}  // namespace sluice
