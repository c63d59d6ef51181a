// Envoy's rate limit service (RLS) in terms of RL.CHECK: a RateLimitRequest
// is one check per descriptor, and each decision becomes a DescriptorStatus.
// Pure: no I/O, no clock (time is passed in), no gRPC; the server
// (agent/grpc/rls_server.h) calls it on the agent's event loop.
//
// A request:
//   - `domain` is the check's domain (required);
//   - each descriptor's entries, in order, are the check's key/value pairs
//     (at least one; a repeated key: the first wins, as in RL.CHECK);
//   - `hits_addend` is the cost of every descriptor; 0 (unset) means 1.
// Each descriptor is checked as RL.CHECK would check it, in order, each on
// its own: a descriptor's tokens are taken even when another descriptor of
// the request is refused (as two RL.CHECK calls would, and as Envoy's own
// rate limit service does).
//
// The response: `overall_code` is OVER_LIMIT when any descriptor is refused,
// else OK. Each status:
//   code                  OK or OVER_LIMIT (shadow rules never refuse);
//   current_limit         the reported rule (the most restrictive, as in
//                         RL.CHECK): its name, and its rate as
//                         requests_per_unit per unit (ToUnitRate); absent
//                         when no enforce rule applies;
//   limit_remaining       tokens left in that rule's bucket (0 when no rule);
//   duration_until_reset  until that bucket is full again (RL.CHECK's
//                         reset_after_ms).
//
// Thread-compatible; the Checker belongs to the caller's thread.
#pragma once

#include <cstddef>
#include <cstdint>

#include "agent/check/checker.h"
#include "common/descriptor.h"
#include "common/status.h"
#include "envoy/service/ratelimit/v3/rls.pb.h"

namespace sluice::rls {

using envoy::service::ratelimit::v3::RateLimitRequest;
using envoy::service::ratelimit::v3::RateLimitResponse;
using RateLimitUnit = RateLimitResponse::RateLimit::Unit;

// Descriptors per request (each is a check on the event loop).
constexpr int kMaxDescriptors = 256;

// OK, or InvalidArgument saying what is wrong with `request` and what
// would be right: an empty domain, no descriptors or more than
// kMaxDescriptors, a descriptor without entries.
Status ValidateRequest(const RateLimitRequest& request);

// A rule's rate as Envoy's current_limit: `limit` per `period_ms`.
//   - a period of exactly 1 s, 1 min, 1 h or 1 d: `limit` per that unit;
//   - any other period: the rate per the shortest of those units that is at
//     least as long as the period (per day beyond a day), rounded down:
//     5 per 500ms is 10 per SECOND, 3 per 90s is 120 per HOUR, 7 per 2d is
//     3 per DAY (0 when less than one a day).
// requests_per_unit is capped at 2^32 - 1.
struct UnitRate {
  uint32_t requests_per_unit = 0;
  RateLimitUnit unit = RateLimitResponse::RateLimit::UNKNOWN;
};
UnitRate ToUnitRate(int64_t limit, int64_t period_ms);

// Runs the checks of a valid request at `now` and fills *response (cleared
// first). Fails with ResourceExhausted when a check needed a new bucket and
// the agent holds --max-buckets already (the descriptors before it were
// checked). `scratch` is reused between calls.
Status Decide(const RateLimitRequest& request, int64_t now, Checker* checker,
              Descriptor* scratch, RateLimitResponse* response);

}  // namespace sluice::rls
