// BucketAllocator: the controller's budget for one bucket, and how it is
// divided among the agents that use the bucket. docs/leasing.md explains
// the design and quotes measurements; this is where its state lives.
//
// THE BUDGET. A bucket's budget is `burst` tokens refilled at
// rate = limit / period. It is kept in three places:
//   - `pool`: tokens nobody has a claim on (the burst, and refill nobody
//     was entitled to or claimed in time). May be negative: a debt of
//     tokens agents admitted without a lease (`unleased`), down to -burst.
//   - `credit[a]`: refill reserved for agent a: it accrues at a's fair
//     share of the rate, share[a], and waits for a to ask for it. It is
//     capped at credit_horizon worth of the share (at least one token):
//     beyond, what a's share would add goes to the agents still below
//     their caps (those asking), in proportion to their shares, and only
//     when nobody can take it, to the pool.
//   - `outstanding`: every lease granted, until its expiry (grant time +
//     ttl, never earlier than the agent's idea of it), less the tokens the
//     agents report as spent from leases. Unused tokens simply die at
//     expiry: they are never granted again. Leases are kept per bucket, not
//     per agent, in kLeaseSlots expiry bins of ttl / (kLeaseSlots - 1):
//     a lease's expiry is rounded UP to the end of its bin, so
//     it holds its room at most one bin longer than the agent may spend it
//     (safe for invariant 1). What an agent reports spent leaves the
//     earliest bins first, whichever agent's leases they hold: the tokens
//     it spent were in a bin at or after those, so the bins never end
//     earlier than the leases they stand for (safe again); an agent's
//     reports are capped at what it holds (`held`: its grants not reported
//     spent, all dropped once its last lease expired).
// Granting moves tokens from credit[a] (first) and the pool (if positive)
// into a lease. Unleased tokens an agent reports are charged to its credit
// first, then to the pool.
//
// INVARIANTS (checked by tests/common/allocator_test.cc):
//   1. max(pool, 0) + sum(credit) + outstanding <= burst. Refill is added
//      only into that room, so everything that can still be admitted under
//      this budget (reserved, unclaimed, or leased and unspent) is at most
//      `burst`, and over any window W the agents admit at most
//      burst + rate * W from leases. Over a run of length T, the tokens
//      granted are at most burst + rate * T minus what was charged as
//      unleased.
//   2. pool >= -burst; refill pays a debt before anything else accrues.
//   3. sum(share) <= rate; credit[a] >= 0; outstanding >= 0.
//   4. Time only moves forward: a `now` older than the last seen is the
//      last seen.
//
// FAIR SHARES. Each agent's demand (admitted + refused per report
// interval, see common/demand_estimator.h) is estimated; the rate is split
// by weighted max-min fairness (MaxMinFairShares): an agent wanting less
// than its weighted equal share gets its demand, the others split the rest
// in proportion to their weights; what nobody wants goes to the pool for
// whoever asks first. Shares are recomputed on every report. An agent
// silent for longer than its last grant lasts at its demand (at least
// min_grace, at most the ttl) has its demand decayed, so a share is not
// held for an agent that stopped. Even before that, a share it does not
// claim stops accruing to it after credit_horizon and goes to the agents
// that are asking: demand moving from one agent to another is followed
// within about credit_horizon plus a few reports.
//
// BATCHES AND REFRESH. A grant is min(want, credit[a] + max(pool, 0)):
// an agent asking often gets small batches (the credit since its last
// ask), one asking rarely gets larger ones, up to what it wants (about one
// second of its own demand, at most burst). When demand exceeds the limit
// the pool is empty and each agent gets exactly its share of the refill
// since it last asked, so lease traffic per bucket follows the agents'
// refresh cadence (at most one request per agent per min_interval, 50 ms
// by default, agent side), never the request rate; a bucket nobody uses
// costs nothing (all accrual is computed lazily on the next call).
//
// RESTART. A restarted controller builds its allocators kEmpty (the
// previous incarnation may have leased the whole burst) and, until its
// learning period ends (AllocatorOptions::drop_unclaimed_until_ns, shared
// by all: allocators made later never accrue that early), drops refill no
// agent has a credit
// claim on is dropped instead of pooled, so it grants only fair shares of
// the refill while old leases may still be spent (docs/leasing.md).
//
// MEMORY. A bucket with one agent (per-client buckets: the common case)
// is one object of sizeof(BucketAllocator) bytes (checked by
// tests/common/allocator_test.cc), with no heap allocation; every further
// agent adds sizeof(AgentState) (32 bytes) in one array. An agent's
// amounts are floats, each rounded the safe way: lease bins and `held` UP
// (never below the tokens they stand for), credit and share DOWN (never
// above what the budget reserved), demand estimates and weights to nearest
// (a relative error of 1e-7 is far below their noise); the pool stays a
// double. The scratch of the several-agents case is per thread, not per
// allocator.
//
// Thread-compatible: the lease server's thread owns its allocators.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/demand_estimator.h"
#include "common/rule.h"

namespace sluice {

struct AllocatorOptions {
  int64_t lease_ttl_ns = 2'000'000'000;  // validity of every grant
  // Unclaimed credit accrues for this long, then flows to the pool. Must
  // exceed an active agent's refresh cadence (50 ms by default).
  int64_t credit_horizon_ns = 200'000'000;
  // An agent's demand is trusted at least this long after its report.
  int64_t min_grace_ns = 100'000'000;
  // An agent silent this long, with nothing outstanding, is dropped from
  // the bucket (its demand estimate is forgotten).
  int64_t forget_after_ns = 5'000'000'000;
  // Until this time, refill nobody has a claim on is dropped instead of
  // going to the pool (see "RESTART" above); 0: never.
  int64_t drop_unclaimed_until_ns = 0;
  DemandTiming demand;
};

// One LeaseWant, as the allocator needs it.
struct LeaseReport {
  int64_t want = 0;      // tokens the agent would like now
  int64_t admitted = 0;  // since its last report (leased or not)
  int64_t refused = 0;   // since its last report
  int64_t unleased = 0;  // part of `admitted` taken without a lease
  double weight = 1.0;   // the agent's weight (> 0)
};

struct LeaseOffer {
  int64_t tokens = 0;
  int64_t ttl_ns = 0;  // 0: no lease at all
};

// One claim in a max-min division: `demand` (>= 0) and `weight` (> 0).
struct FairClaim {
  double demand = 0;
  double weight = 1;
};

// Weighted max-min fair division of `capacity` among `claims`: resizes
// *shares to claims.size(). Claims with demand <= 0 or weight <= 0 get 0.
// Each share <= its demand; the shares sum to min(capacity, sum(demand)).
void MaxMinFairShares(double capacity, const std::vector<FairClaim>& claims,
                      std::vector<double>* shares);

class BucketAllocator {
 public:
  // kFull: the budget starts with `burst` in the pool. kEmpty: with
  // nothing (a restarted controller that cannot know what is leased).
  enum class Start { kFull, kEmpty };

  // `options` must outlive the allocator.
  BucketAllocator(const Rule& rule, int64_t now,
                  const AllocatorOptions* options, Start start = Start::kFull);

  // Agent `agent` (any id the caller keeps stable per agent) reports and
  // asks: accounts the report (spend, unleased charge, demand), then
  // grants min(want, credit + pool) whole tokens for options.lease_ttl_ns.
  LeaseOffer Grant(uint64_t agent, int64_t now, const LeaseReport& report);
  // Accounts a report without granting anything (restart learning).
  void Report(uint64_t agent, int64_t now, const LeaseReport& report);
  // The agent is gone: its demand and share are dropped, its credit goes
  // back to the pool; its leases stay outstanding until they expire.
  void Forget(uint64_t agent, int64_t now);
  // Drops agents silent for options.forget_after_ns with nothing
  // outstanding.
  void Sweep(int64_t now);
  // A changed rule: new burst and rate, balances clamped to the new burst.
  void Reconfigure(const Rule& rule, int64_t now);
  // No agents, nothing outstanding and a full pool: indistinguishable from
  // a fresh kFull allocator, so it may be dropped.
  bool Idle(int64_t now);

  // --- Observers (they bring the budget up to `now` first) ---
  double Pool(int64_t now);
  double Credit(uint64_t agent, int64_t now);
  double Outstanding(int64_t now);
  // Tokens per second.
  double ShareRate(uint64_t agent) const;
  double DemandRate(uint64_t agent, int64_t now) const;
  // Agents with a demand in the bucket (not those only waiting for their
  // leases to expire after Forget).
  size_t agent_count() const;
  double burst() const { return capacity_; }

  // Expiry bins per bucket: a grant's expiry is rounded up to a multiple of
  // ttl / (kLeaseSlots - 1), so kLeaseSlots bins hold every lease alive.
  static constexpr int kLeaseSlots = 5;
  // Bytes of each agent beyond the first (the first is inline).
  static constexpr size_t AgentBytes() { return sizeof(AgentState); }

 private:
  struct AgentState {
    // The caller's agent id; ids are a registry's numbers (< 2^32).
    uint32_t id = 0;
    float share = 0;   // tokens per nanosecond
    float credit = 0;  // tokens reserved for it
    // Its grants not reported spent (an upper bound of its leases alive):
    // 0 once the bin of demand.last_report() + ttl has ended.
    float held = 0;
    float weight = 1;
    float last_grant = 0;  // tokens
    DemandEstimator demand;
  };

  AgentState& agent(size_t i) { return i == 0 ? first_ : more_[i - 1]; }
  const AgentState& agent(size_t i) const {
    return i == 0 ? first_ : more_[i - 1];
  }
  AgentState* Find(uint64_t agent);
  const AgentState* Find(uint64_t agent) const;
  AgentState& FindOrAdd(uint64_t agent, double weight);
  uint32_t MoreCapacity() const { return more_ ? 1u << more_log2_ : 0; }
  void EraseAgent(size_t i);
  // Brings everything up to `now`: refill, expiries.
  void Advance(int64_t now);
  void AccrueTo(int64_t t);
  // Adds to the agents' credits their shares of `accrual_time`, each up to
  // its cap, in all at most `room`; returns what it added.
  double GiveCredit(double accrual_time, double room);
  void Account(AgentState& a, int64_t now, const LeaseReport& report);
  void AddLease(int64_t expiry, double tokens);
  void SpendLeases(double tokens);
  void DropFirstBins(int n);
  int64_t BinWidth() const;
  int64_t FirstBin() const;
  // Ages the agents' report stamps and drops `held` of agents whose leases
  // have all expired, from last_ to `now`.
  void AgeAgents(int64_t now);
  double OutstandingNow() const;
  void RecomputeShares(int64_t now);
  double CreditCap(const AgentState& a) const;
  int64_t Grace(const AgentState& a) const;
  void ClampToCapacity();

  const AllocatorOptions* options_;
  double capacity_;  // burst
  double rate_;      // tokens per nanosecond
  double pool_;
  int64_t last_;  // time of the last accrual
  // Leases of all agents: lease_tokens_[i] (unspent, rounded up) expire at
  // the end of bin FirstBin() + i, i < bins_. first_bin_ holds the low 32
  // bits of that bin number (the rest is that of last_'s bin: they are
  // never more than kLeaseSlots + 1 bins apart).
  float lease_tokens_[kLeaseSlots] = {};
  uint32_t first_bin_ = 0;
  uint8_t bins_ = 0;
  // Agents 0..count_-1: the first inline, the others in more_ (few per
  // bucket: linear search), which has room for 2^more_log2_ of them.
  uint8_t more_log2_ = 0;
  uint32_t count_ = 0;
  AgentState first_;
  std::unique_ptr<AgentState[]> more_;
};

}  // namespace sluice
