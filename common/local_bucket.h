// LocalBucket: what one agent knows about one bucket, and the decision maths
// on it. The agent answers every check from here, without the network.
//
// Sources of tokens, in order:
//   1. A valid lease (now < lease expiry): `lease_tokens` granted by the
//      controller. They do not refill locally; they are spent, then the
//      lease is renewed in the background. They die at expiry.
//      Pacing: while the bucket is contended (its last report, the one
//      the grant answers, had refusals and covered less than the
//      controller's 200 ms credit horizon), the grant for its
//      last request is released evenly over 50 ms from that request (the
//      refresh cadence of a contended bucket), instead of all at once: a
//      contended agent gets small grants (its fair share of the refill
//      since it last asked, common/allocator.h) and would otherwise admit
//      them in one lump and refuse until the next, so its admitted rate
//      would swing by a whole grant between short windows. An uncontended
//      bucket is never paced (bursts stay bursts).
//   2. No valid lease, or one that cannot pay for the check (spent, or
//      paced) and whose last request is at least 200 ms old (before that,
//      the controller holds the agent's share of the refill as credit for
//      its next grant, so only one grant's worth per request, unless the
//      agent is the only one: see ShareBehindLease), when the controller
//      is reachable or failure_mode is `local`:
//      the safe share, a local token bucket of burst/agents capacity
//      refilled at rate/agents (agents = connected agents last reported by
//      the controller, at least 1). With several agents a grant of tokens
//      empties it (the grant holds the agent's share of the refill until
//      then); the only agent's share is the whole budget, of which a grant
//      is part (ApplyGrant). What a lease admits drains it too (never
//      below zero: a lease left unspent while the share refilled must not
//      be spent on top of the refill), so between grants it admits at most
//      the agent's share of the refill since the last one (the only
//      agent's: what the budget holds), and a bucket whose lease lapsed or
//      ran dry is never refused only because no lease is in hand. What it
//      admits is reported as `unleased` and charged to the global bucket by
//      the controller (netted against a grant still in flight).
//   3. No valid lease, controller unreachable:
//      - failure_mode `open`: admit everything.
//      - failure_mode `closed`: refuse everything (retry_after 1000 ms, the
//        reconnect cadence).
//
// Reply fields (CanTake/Take) by source:
//   lease:      remaining = valid lease tokens (released ones, when paced);
//               reset_after = time for the
//               rule's global rate to refill burst - remaining; when
//               refused (unreachable, not `local`), retry_after = time for
//               `cost` tokens at rate/agents (at least 1 ms).
//   lease, then safe share: the safe share's fields, remaining plus the
//               lease's usable tokens.
//   safe share: the safe-share bucket's own remaining / time to full / time
//               until `cost` (or as for a lease when `cost` exceeds the safe
//               share's capacity).
//   open:       allowed, remaining = burst, reset_after 0.
//   closed:     refused, remaining 0, reset_after and retry_after 1000.
// Any source: cost > burst is refused with retry_after -1. cost 0 is
// allowed (except when closed) and takes nothing. Refuse() then spreads the
// retry_after of successive refusals over the share's refill.
//
// Overshoot bound (documented in docs/leasing.md): while a bucket is cold or
// between leases, each agent admits at most its safe share (burst/agents at
// once, then rate/agents), so all agents together at most `burst` at once
// plus `rate`; the controller charges it back, so it is not admitted twice
// over long windows.
//
// Compact state (64 bytes: an agent holds up to millions of buckets, see
// agent/check/bucket_table.h). Nothing the rule already says is stored, so
// every call passes the rule (the one the bucket was built or last
// reconfigured with) and the LeaseContext:
//   - The safe share is kept at the rule's scale: a TokenBucketState of
//     capacity `burst` refilled at limit/period, of which this agent's share
//     is 1/agents (the agents of each call's LeaseContext). A change in the
//     number of agents therefore rescales the share in proportion: a full
//     share stays full, a share half spent stays half spent.
//   - Lease tokens, the last grant, the last cost and the report counters
//     (admitted, refused, unleased since the last report) are 32-bit and
//     saturate at 2^32-1 (kMaxCount), always in the strict direction:
//       * a grant above kMaxCount tokens is held as kMaxCount (the rest dies
//         unused, as granted-but-unused tokens do at expiry);
//       * a counter stops at kMaxCount between two reports. The controller
//         charges unleased tokens into a debt of at most one burst, so for
//         rules with burst <= 2^31 nothing it acts on is lost;
//       * the last cost stops at kMaxCount (it is at most burst anyway).
//     So rules up to 2^32-1 tokens behave exactly; beyond, an agent holds
//     at most kMaxCount leased tokens per bucket.
//   - The earlier lease's expiry is kept as a gap before the latest lease's
//     expiry, in units of 128 us rounded up: earlier tokens die up to
//     128 us early, never late. A gap above kMaxOldGapUnits (about 8.4 s,
//     beyond a lease ttl unless --lease-ttl-ms is set higher) drops the
//     earlier tokens (stricter, never looser).
//   - The retry queue's end (Refuse) is kept in whole milliseconds after the
//     last request, at most kMaxRetryQueueMillis (about 8.2 s).
//   - One time serves as the start of the report window, the time of the
//     last request and the time of the request in flight (all three are
//     MarkRequested's `now`; a new bucket's window starts at creation).
//
// Invariants:
//   1. old expiry <= lease expiry (the gap is >= 0); old tokens are 0 when
//      there is no earlier lease.
//   2. in flight implies requested; once requested, the window start is the
//      time of the last MarkRequested.
//   3. The safe share's tokens lie in [-burst, burst] of the rule last
//      passed to the constructor or Reconfigure (its debt is bounded like a
//      TokenBucket's).
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
  // A bucket no longer checked whose only news is tokens spent from its
  // leases reports them this long after its last request (see
  // NeedsSweepLease); so, at the latest, does a bucket decided locally.
  int64_t quiet_report_ns = int64_t{5} * 1000 * 1000 * 1000;
  // Buckets used far below their safe share are decided locally: they ask
  // for no lease and only report what they admitted (see NeedsLease).
  // Off: every bucket used asks for a lease, as a contended one does.
  bool decide_locally = true;
};

class LocalBucket {
 public:
  // Saturation bound of the 32-bit token counts (see the header comment).
  static constexpr int64_t kMaxCount = UINT32_MAX;
  // The gap between the earlier and the latest lease expiry is kept in
  // units of this many nanoseconds (rounded up), at most kMaxOldGapUnits.
  static constexpr int64_t kOldGapUnitNanos = 128 * 1000;
  static constexpr int64_t kMaxOldGapUnits = (int64_t{1} << 16) - 1;
  // The retry queue (Refuse) reaches at most this far after the last
  // request.
  static constexpr int64_t kMaxRetryQueueMillis = (int64_t{1} << 13) - 1;

  // A fresh bucket: full safe share, no lease, nothing to report. The
  // share is stored at the rule's scale, so `ctx` does not change the state
  // (it is accepted for callers that build buckets from a check's context).
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
  void CountRefused(int64_t cost) { AddCount(&refused_, cost); }

  // A check CanTake refused (*d as it filled it): counts `cost` as refused
  // and spreads the retry times of successive refusals over the refill
  // the agent expects (its share, rate/agents): the first refused check
  // is told when `cost` will be there, each further one `cost` at the
  // share later than the previous one (the queue's end), capped at the
  // time the share takes to refill one burst. Clients that honour
  // retry_after then come back one at a time instead of all at once.
  // retry_after -1 (never) and the `closed` failure mode's are kept.
  void Refuse(const Rule& rule, int64_t now, int64_t cost,
              const LeaseContext& ctx, Decision* d);

  // Adopts `after`, a new version of the rule the bucket follows
  // (`before`): tokens accrued until `now` at before's rate, then the safe
  // share keeps its tokens clamped to the new burst; leased tokens beyond
  // the new burst are given up.
  void Reconfigure(const Rule& before, const Rule& after, int64_t now);

  // --- Leasing (called by the agent's lease logic) ---

  // True when a lease request should be sent for this bucket now: it has
  // been used since the last report; it is not decided locally (below);
  // its lease is missing, expired,
  // expiring within timing.refresh_margin_ns, below half of the last grant
  // or below the last cost seen; no request is in flight (or the one in
  // flight is older than timing.request_timeout_ns); and the last request
  // is at least timing.min_interval_ns old. Sets *want to the tokens to ask
  // for: the demand (admitted + refused) rate of the current report window
  // (taken as at least 100 ms and at most refresh_margin long) times
  // 2 * refresh_margin, at least the last cost seen, at most burst. (So a
  // bucket used again after an idle spell asks for twice what its last
  // window used, not for that spread over the idle time.)
  //
  // Decided locally (timing.decide_locally): a bucket without a valid
  // lease that refused nothing since its last report and whose safe share
  // still holds at least half of its capacity is used far below what its
  // share refills. It asks for no tokens: the safe share decides, and the
  // bucket only reports (want 0, answered with no grant: MarkReported)
  // once what it admitted without a lease since its last report reaches
  // half of the share's capacity (burst / agents / 2), or
  // timing.quiet_report_ns after its report window began (for the only
  // agent of the budget, ctx.agents == 1, that report is the sweep's:
  // NeedsSweepLease, which may find it moot, ReportMoot). So each agent
  // holds at most half a share (plus one check's cost) unreported, and all
  // agents together half a burst: the bound in docs/leasing.md. Once the
  // share falls below half, or a check is refused, it asks for a lease as
  // above.
  bool NeedsLease(const Rule& rule, int64_t now, const LeaseTiming& timing,
                  const LeaseContext& ctx, int64_t* want) const;

  // NeedsLease for a bucket visited by the agent's background sweep (not
  // by a check). A bucket that refused or admitted without a lease since
  // its last report needs one as NeedsLease says: the controller must
  // charge or see it promptly. One whose only news is tokens spent from
  // leases waits until its report window is timing.quiet_report_ns old:
  // those tokens are already accounted (outstanding) by the controller, a
  // client that comes back renews on its next check (which also carries
  // the report), and one that stopped is reported once, not once as its
  // lease nears expiry and again when it comes back.
  bool NeedsSweepLease(const Rule& rule, int64_t now, const LeaseTiming& timing,
                       const LeaseContext& ctx, int64_t* want) const;

  // Whether the report a quiet bucket decided locally would send (see
  // NeedsSweepLease: its report window is timing.quiet_report_ns old) is
  // of no use to the controller, so that the bucket may be evicted without
  // it: the agent is the only one (ctx.agents == 1), the bucket refused
  // nothing since its last report, holds no valid lease and no request in
  // flight, and its safe share (the whole budget, for the only agent) has
  // refilled to full. The budget that report would charge is spent by
  // nobody else, and by now it would have refilled what the report
  // charges: the controller is already in the state the charge would
  // bring it to, except that the charge, made late, would keep it
  // emptier than the bucket for as long again. With another agent
  // spending the same budget the charge keeps the two within the limit,
  // and the report is sent.
  bool ReportMoot(const Rule& rule, int64_t now, const LeaseTiming& timing,
                  const LeaseContext& ctx) const;

  // Marks a request as sent at `now` and returns the counters to report
  // (admitted, refused, unleased since the last report), resetting them.
  void MarkRequested(int64_t now, int64_t* admitted, int64_t* refused,
                     int64_t* unleased);
  // MarkRequested for a report (want 0): the controller accounts it and
  // answers no grant, so no request is left in flight.
  void MarkReported(int64_t now, int64_t* admitted, int64_t* refused,
                    int64_t* unleased);

  // Applies a grant for the request sent at `requested_at`: the new lease
  // holds `tokens` until requested_at + ttl. Tokens of a previous lease
  // still valid are kept (they were granted for their own window): they
  // are spent first and die no later than their own expiry. A grant that
  // has already expired at `now` adds nothing. Unleased tokens not yet
  // reported (admitted from the safe share while the request was in flight)
  // are netted against the grant first. Ends the request in flight when
  // `requested_at` is at or after its MarkRequested time (the agent stamps
  // a request when it leaves, a little after MarkRequested); a grant for an
  // earlier request leaves it in flight.
  // A grant of tokens > 0 also empties the safe share (it holds this
  // agent's credit, its share of the refill until about now), so that the
  // safe share admits only the share of the refill since the last grant;
  // except for the only agent (ctx.agents 1), whose share mirrors the
  // whole budget: a grant is part of it, and drains it as it is spent
  // (Take), so lease and share together admit what the share held, or the
  // grant when that is more. (Emptied, a grant smaller than the budget, as
  // asked for a burst's first checks, refused the rest of the burst.)
  // A reply with no lease (ttl 0) ends a valid lease that is spent, so the
  // safe share may admit at once (the controller holds no credit for us).
  // No tokens while no request is in flight (the answer to a report, from
  // a controller that answers reports) change nothing.
  void ApplyGrant(const Rule& rule, int64_t requested_at, int64_t tokens,
                  int64_t ttl_ns, int64_t now, const LeaseContext& ctx);

  // True when the bucket is indistinguishable from a fresh one at `now`
  // (no valid lease, no request in flight younger than
  // timing.request_timeout_ns, nothing to report, safe share full): it may
  // be evicted. (A bucket evicted with its request in flight would lose
  // the grant, which the controller counts as leased until it expires,
  // and ask again from scratch; with a fast-refilling share that happened
  // within a millisecond of the request.)
  bool Idle(const Rule& rule, int64_t now, const LeaseTiming& timing);

  // Tokens held under leases, valid or not (see has_lease()).
  int64_t lease_tokens() const {
    return int64_t{lease_tokens_} + int64_t{old_tokens_};
  }
  // Tokens under leases valid at `now`.
  int64_t LeaseTokens(int64_t now) const;
  // When the latest lease expires (0: never leased).
  int64_t lease_expiry() const { return lease_expiry_; }
  bool has_lease(int64_t now) const { return now < lease_expiry_; }

 private:
  enum class Source { kLease, kSafeShare, kOpen, kClosed };
  Source SourceFor(const Rule& rule, int64_t now,
                   const LeaseContext& ctx) const;
  // Whether the safe share may admit (controller reachable, or `local`).
  static bool ShareUsable(const Rule& rule, const LeaseContext& ctx);
  // Whether a bucket whose lease cannot pay for `cost` may use its safe
  // share: its last request is at least 200 ms old (the controller's credit
  // horizon), or what it admitted unleased since that request, with
  // `cost`, is at most its last grant. The controller charges unleased
  // tokens to the agent's credit first, so within one grant's worth per
  // request the safe share only brings forward what the agent's next grant
  // would hold (its fair share, which may be below rate/agents when others
  // weigh more); beyond, it would eat into the others' refill. The only
  // agent (`agents` 1) eats into nobody's: its share is the whole budget's
  // refill since its last grant, so it may always use it (else a grant
  // slower than the rest of a burst refuses what the budget holds).
  bool ShareBehindLease(int64_t now, int64_t cost, int64_t agents) const;
  // Whether the bucket is decided locally at `now` (see NeedsLease).
  bool DecidedLocally(const Rule& rule, int64_t now) const;
  // What NeedsLease (by_sweep false) and NeedsSweepLease (true, after its
  // own condition) decide; they differ in who sends the quiet report of
  // the budget's only agent: the sweep alone.
  bool WantsLease(const Rule& rule, int64_t now, const LeaseTiming& timing,
                  const LeaseContext& ctx, bool by_sweep, int64_t* want) const;
  // MarkRequested and MarkReported.
  void MarkSent(int64_t now, int64_t* admitted, int64_t* refused,
                int64_t* unleased);
  // CanTake and Take on the safe share alone.
  bool ShareCanTake(const Rule& rule, int64_t now, int64_t cost, int64_t agents,
                    Decision* d);
  void TakeFromShare(const Rule& rule, int64_t now, int64_t cost,
                     const LeaseContext& ctx, Decision* d);
  // When the last refused check's turn comes (see Refuse).
  int64_t RetryQueueEnd() const {
    return window_start_ + int64_t{retry_queue_millis_} * 1000 * 1000;
  }
  void SetRetryQueueEnd(int64_t end);
  // Lease tokens a check may take at `now` (see "Pacing" above).
  int64_t UsableLeaseTokens(int64_t now) const;
  // Spends lease tokens, the earliest-expiring first.
  void SpendLease(int64_t now, int64_t cost);
  int64_t old_expiry() const {
    return lease_expiry_ - int64_t{old_gap_units_} * kOldGapUnitNanos;
  }
  // Keeps `tokens` of earlier leases until `expiry` (<= lease_expiry_).
  void SetOldLease(int64_t tokens, int64_t expiry);
  static void AddCount(uint32_t* counter, int64_t amount);

  // The safe share at the rule's scale (capacity burst, rate limit/period).
  TokenBucketState share_;
  // The latest lease: its tokens die at lease_expiry_ (0: never leased).
  int64_t lease_expiry_ = 0;
  // Start of the report window; once requested_, the last request's time.
  int64_t window_start_;
  uint32_t lease_tokens_ = 0;
  // What is left of earlier leases still valid at the last grant; dies at
  // old_expiry().
  uint32_t old_tokens_ = 0;
  uint32_t last_grant_ = 0;
  uint32_t admitted_ = 0;
  uint32_t refused_ = 0;
  uint32_t unleased_ = 0;
  uint32_t last_cost_ = 1;       // the last cost > 0 seen, at most burst
  uint32_t old_gap_units_ : 16;  // old_expiry() = lease_expiry_ - gap
  uint32_t contended_ : 1;       // the last report: refusals, < 200 ms
  uint32_t in_flight_ : 1;       // a request was sent, no answer yet
  uint32_t requested_ : 1;       // a request or report was ever sent
  // The retry queue's end (Refuse), in milliseconds after window_start_
  // (0: no queue).
  uint32_t retry_queue_millis_ : 13;
};

}  // namespace sluice
