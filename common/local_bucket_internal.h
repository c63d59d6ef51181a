// Helpers shared by the two halves of LocalBucket (local_bucket.cc: the
// decision; local_bucket_lease.cc: the lease exchange). Not part of any
// interface: include it from those two files only.
//
// Pure functions and constants.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

#include "common/clock.h"
#include "common/local_bucket.h"
#include "common/rule.h"
#include "common/token_bucket.h"

namespace sluice {
namespace local_bucket_internal {

// Floating-point slack: amounts this close to a whole count are that count.
constexpr double kEpsilon = 1e-6;
// The shortest window a demand is measured over.
constexpr int64_t kMinDemandWindowNanos = 100 * kNanosPerMilli;
// The controller reserves an agent's share of the refill as credit for it
// this long after its request (AllocatorOptions::credit_horizon_ns) and
// hands it over with the next grant; after, it is nobody's until someone
// asks. A contended bucket asks far more often (every 50 ms by default).
constexpr int64_t kCreditHorizonNanos = 200 * kNanosPerMilli;

inline int64_t Agents(const LeaseContext& ctx) {
  return std::max<int64_t>(1, ctx.agents);
}

inline int64_t ClampToInt64(double value) {
  if (!(value > 0)) return 0;
  if (value >= static_cast<double>(std::numeric_limits<int64_t>::max())) {
    return std::numeric_limits<int64_t>::max();
  }
  return static_cast<int64_t>(value);
}

// The rule's whole bucket: the safe share of one agent out of `agents` is
// 1/agents of it (the header's "at the rule's scale").
inline TokenBucketShape RuleShape(const Rule& rule) {
  return TokenBucketShape{static_cast<double>(std::max<int64_t>(0, rule.burst)),
                          rule.RatePerNano()};
}

inline uint32_t ClampCount(int64_t value) {
  return static_cast<uint32_t>(
      std::clamp<int64_t>(value, 0, LocalBucket::kMaxCount));
}

}  // namespace local_bucket_internal
}  // namespace sluice
