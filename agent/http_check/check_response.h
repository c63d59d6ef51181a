// The HTTP check's responses, formatted whole: status line, header fields
// and JSON body. Pure: no I/O; thread-safe.
//
// A decision (RL.CHECK's five fields, the same numbers):
//   200 when allowed, 429 when refused;
//   body {"allowed": true, "limit": 5, "remaining": 4,
//         "reset_after_ms": 200, "retry_after_ms": 0};
//   when a rule applies (an enforce rule: shadow rules never show), the
//   IETF httpapi RateLimit fields (draft-ietf-httpapi-ratelimit-headers,
//   revisions 08 to 10) for that rule, named by the rule's name:
//     RateLimit-Policy: "<rule name>";q=<quota>;w=<window seconds>
//     RateLimit: "<rule name>";r=<remaining>;t=<seconds until full>
//   (PolicyField says how q and w express periods that are not whole
//   seconds; t is rounded up);
//   on 429, Retry-After in whole seconds, rounded up from retry_after_ms;
//   none when retry_after_ms is -1 (the cost is more than the rule's
//   burst: waiting never helps).
// Every response: Content-Type application/json, Content-Length,
// Cache-Control no-store, and Connection as framed.
//
// An error (a CheckError): its status, {"error": {"code": ..., "message":
// ..., "field": ...}} (the controller's error shape; "field" only when
// set), and its extra header lines.
#pragma once

#include <string>

#include "agent/http_check/check_request.h"
#include "common/decision.h"
#include "common/rule.h"

namespace sluice::http_check {

struct Framing {
  // false: "Connection: close", and the server closes after the response.
  bool keep_alive = true;
  // A keep-alive HTTP/1.0 client gets "Connection: keep-alive".
  bool http10 = false;
  // HEAD: the header fields of a GET, no body.
  bool head = false;
};

// `rule` is the rule `d` reports (Decision::rule_id), null when none.
void AppendDecisionResponse(const Decision& d, const Rule* rule,
                            const Framing& framing, std::string* out);

// `extra_headers`: complete lines ("Allow: GET, HEAD\r\n"), or empty.
void AppendErrorResponse(const CheckError& error, const Framing& framing,
                         std::string* out,
                         const std::string& extra_headers = "");

// The RateLimit-Policy value of `rule`. A period of whole seconds is
// q=limit;w=period: 100 per 1m is q=100;w=60. Any other period is
// expressed over the next whole number of seconds, q rounded down: 5 per
// 500ms is q=10;w=1, 3 per 1500ms is q=4;w=2.
std::string PolicyField(const Rule& rule);
// The RateLimit value of a decision reported by `rule`.
std::string RateLimitField(const Rule& rule, const Decision& d);

}  // namespace sluice::http_check
