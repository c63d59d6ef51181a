#include "common/local_bucket.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/clock.h"

namespace sluice {
namespace {

constexpr int64_t kClosedRetryMillis = 1000;
constexpr int64_t kMinDemandWindowNanos = 100 * kNanosPerMilli;
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

// Nanoseconds to milliseconds, rounded up but forgiving up to 1 µs of
// floating-point error (so 500000001 ns reads as 500 ms). -1 stays -1.
int64_t NanosToMillis(int64_t nanos) {
  if (nanos < 0) return -1;
  if (nanos <= 1000) return 0;
  return (nanos - 1000 + kNanosPerMilli - 1) / kNanosPerMilli;
}

void SafeShareSize(const Rule& rule, int64_t agents, double* capacity,
                   double* rate) {
  *capacity = static_cast<double>(rule.burst) / static_cast<double>(agents);
  *rate = rule.RatePerNano() / static_cast<double>(agents);
}

}  // namespace

LocalBucket::LocalBucket(const Rule& rule, int64_t now, const LeaseContext& ctx)
    : agents_(Agents(ctx)), demand_since_(now) {
  double capacity, rate;
  SafeShareSize(rule, agents_, &capacity, &rate);
  safe_share_ = TokenBucket(capacity, rate, now);
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

void LocalBucket::SyncAgents(const Rule& rule, int64_t now,
                             const LeaseContext& ctx) {
  int64_t agents = Agents(ctx);
  if (agents == agents_) return;
  agents_ = agents;
  double capacity, rate;
  SafeShareSize(rule, agents_, &capacity, &rate);
  safe_share_.Reconfigure(capacity, rate, now);
}

int64_t LocalBucket::LeaseTokens(int64_t now) const {
  int64_t tokens = 0;
  if (now < old_expiry_) tokens += old_tokens_;
  if (now < lease_expiry_) tokens += lease_tokens_;
  return tokens;
}

void LocalBucket::SpendLease(int64_t now, int64_t cost) {
  if (now < old_expiry_) {
    int64_t from_old = std::min(cost, old_tokens_);
    old_tokens_ -= from_old;
    cost -= from_old;
  }
  if (now < lease_expiry_) {
    lease_tokens_ = std::max<int64_t>(0, lease_tokens_ - cost);
  }
}

bool LocalBucket::CanTake(const Rule& rule, int64_t now, int64_t cost,
                          const LeaseContext& ctx, Decision* d) {
  SyncAgents(rule, now, ctx);
  if (cost > 0) last_cost_ = std::max<int64_t>(1, std::min(cost, rule.burst));
  d->limit = rule.limit;
  d->retry_after_ms = 0;
  bool allowed = false;
  switch (SourceFor(rule, now, ctx)) {
    case Source::kLease: {
      int64_t tokens = LeaseTokens(now);
      allowed = cost <= tokens;
      d->remaining = tokens;
      d->reset_after_ms =
          MillisToAccrue(static_cast<double>(rule.burst - tokens), rule, 1);
      if (!allowed) {
        d->retry_after_ms = std::max<int64_t>(
            1, MillisToAccrue(static_cast<double>(cost), rule, agents_));
      }
      break;
    }
    case Source::kSafeShare: {
      double c = static_cast<double>(cost);
      int64_t wait = safe_share_.NanosUntilAvailable(now, c);
      allowed = wait == 0;
      d->remaining = WholeTokens(safe_share_.Available(now));
      d->reset_after_ms =
          std::max<int64_t>(0, NanosToMillis(safe_share_.NanosUntilFull(now)));
      if (!allowed) {
        // More than the safe share can ever hold: only a lease can admit it.
        int64_t millis =
            wait > 0 ? NanosToMillis(wait) : MillisToAccrue(c, rule, agents_);
        d->retry_after_ms = std::max<int64_t>(1, millis);
      }
      break;
    }
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

void LocalBucket::Take(const Rule& rule, int64_t now, int64_t cost,
                       const LeaseContext& ctx, Decision* d) {
  SyncAgents(rule, now, ctx);
  if (cost <= 0) return;
  switch (SourceFor(rule, now, ctx)) {
    case Source::kLease: {
      SpendLease(now, cost);
      admitted_ += cost;
      int64_t tokens = LeaseTokens(now);
      d->remaining = tokens;
      d->reset_after_ms =
          MillisToAccrue(static_cast<double>(rule.burst - tokens), rule, 1);
      break;
    }
    case Source::kSafeShare:
      safe_share_.Debit(now, static_cast<double>(cost));
      admitted_ += cost;
      unleased_ += cost;
      d->remaining = WholeTokens(safe_share_.Available(now));
      d->reset_after_ms =
          std::max<int64_t>(0, NanosToMillis(safe_share_.NanosUntilFull(now)));
      break;
    case Source::kOpen:
      admitted_ += cost;
      unleased_ += cost;
      d->remaining = rule.burst;
      break;
    case Source::kClosed:
      break;  // CanTake refused: nothing was admitted
  }
}

void LocalBucket::Reconfigure(const Rule& rule, int64_t now,
                              const LeaseContext& ctx) {
  agents_ = Agents(ctx);
  double capacity, rate;
  SafeShareSize(rule, agents_, &capacity, &rate);
  safe_share_.Reconfigure(capacity, rate, now);
  // Leased tokens beyond the new burst are given up (older ones first).
  int64_t excess = lease_tokens_ + old_tokens_ - rule.burst;
  if (excess > 0) {
    int64_t from_old = std::min(excess, old_tokens_);
    old_tokens_ -= from_old;
    lease_tokens_ -= excess - from_old;
  }
  last_cost_ = std::max<int64_t>(1, std::min(last_cost_, rule.burst));
}

bool LocalBucket::NeedsLease(const Rule& rule, int64_t now,
                             const LeaseTiming& timing, int64_t* want) const {
  const int64_t demand = admitted_ + refused_;
  if (demand <= 0) return false;
  if (requested_at_ >= 0 && now - requested_at_ < timing.request_timeout_ns) {
    return false;
  }
  if (last_request_ >= 0 && now - last_request_ < timing.min_interval_ns) {
    return false;
  }
  const int64_t tokens = LeaseTokens(now);
  const bool low = !has_lease(now) ||
                   lease_expiry_ - now <= timing.refresh_margin_ns ||
                   tokens * 2 < last_grant_ || tokens < last_cost_;
  if (!low) return false;
  const double window =
      static_cast<double>(std::max(now - demand_since_, kMinDemandWindowNanos));
  double wanted = std::ceil(static_cast<double>(demand) / window * 2.0 *
                                static_cast<double>(timing.refresh_margin_ns) -
                            kEpsilon);
  wanted = std::max(wanted, static_cast<double>(last_cost_));
  wanted = std::min(wanted, static_cast<double>(rule.burst));
  *want = ClampToInt64(wanted);
  return true;
}

void LocalBucket::MarkRequested(int64_t now, int64_t* admitted,
                                int64_t* refused, int64_t* unleased) {
  *admitted = admitted_;
  *refused = refused_;
  *unleased = unleased_;
  admitted_ = refused_ = unleased_ = 0;
  requested_at_ = now;
  last_request_ = now;
  demand_since_ = now;
}

void LocalBucket::ApplyGrant(int64_t requested_at, int64_t tokens,
                             int64_t ttl_ns, int64_t now) {
  if (requested_at == requested_at_) requested_at_ = -1;
  tokens = std::max<int64_t>(0, tokens);
  last_grant_ = tokens;
  if (ttl_ns <= 0 ||
      requested_at > std::numeric_limits<int64_t>::max() - ttl_ns) {
    return;
  }
  const int64_t expiry = requested_at + ttl_ns;
  if (expiry <= now) return;  // dead on arrival

  // Tokens admitted from the safe share while this request was in flight
  // are paid for out of the grant: they were admitted in the grant's window,
  // and netting them here keeps a single agent exact instead of admitting
  // the safe share on top of the lease.
  const int64_t netted = std::min(tokens, unleased_);
  tokens -= netted;
  unleased_ -= netted;

  struct Slot {
    int64_t tokens;
    int64_t expiry;
  };
  Slot slots[3] = {{old_tokens_, old_expiry_},
                   {lease_tokens_, lease_expiry_},
                   {tokens, expiry}};
  // The slot that expires last becomes the lease; whatever is left of the
  // others is kept under the earliest of their expiries, so no token
  // outlives the window it was granted for.
  int latest = 2;
  for (int i = 0; i < 2; ++i) {
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
  lease_tokens_ = slots[latest].tokens;
  lease_expiry_ = slots[latest].expiry;
  old_tokens_ = merged_tokens;
  old_expiry_ = merged_expiry;
}

bool LocalBucket::Idle(int64_t now) {
  return !has_lease(now) && admitted_ == 0 && refused_ == 0 && unleased_ == 0 &&
         safe_share_.NanosUntilFull(now) == 0;
}

}  // namespace sluice
