// The HTTP header fields of a decision, as in the IETF httpapi working
// group's draft "RateLimit header fields for HTTP":
//
//   RateLimit-Policy: "<policy>";q=<limit>[;w=<window seconds>]
//   RateLimit:        "<policy>";r=<remaining>;t=<seconds until full>
//   Retry-After:      <seconds>            (on a refusal only)
//
// The agent reports a rule's limit but not its period, so `w` is given only
// when the caller states the window. Seconds are rounded up, so a client
// that waits `t` or `Retry-After` is never early. A refusal that can never
// pass (cost above the bucket's burst: retry_after_ms -1) gets no
// Retry-After.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sluice/client.h"

namespace sluice::client {

struct RateLimitHeaders {
  // All empty when the decision says nothing about a limit (no rule
  // matched, or the agent did not answer).
  std::string policy;       // RateLimit-Policy
  std::string rate_limit;   // RateLimit
  std::string retry_after;  // Retry-After; empty unless refused
};

// `policy_name`: the policy's identifier, a Structured Field string
// (printable ASCII; `"` and `\` are escaped, anything else becomes '_').
// `window_seconds` > 0 adds `w`.
RateLimitHeaders FormatRateLimitHeaders(const Decision& decision,
                                        std::string_view policy_name,
                                        int64_t window_seconds);

// ceil(ms / 1000) for ms >= 0; 0 for ms <= 0.
int64_t CeilSeconds(int64_t ms);

}  // namespace sluice::client
