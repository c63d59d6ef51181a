#include "sluice/rate_limit_headers.h"

namespace sluice::client {
namespace {

std::string Quoted(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c >= 0x20 && c <= 0x7e) {
      out.push_back(c);
    } else {
      out.push_back('_');
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace

int64_t CeilSeconds(int64_t ms) { return ms <= 0 ? 0 : (ms + 999) / 1000; }

RateLimitHeaders FormatRateLimitHeaders(const Decision& decision,
                                        std::string_view policy_name,
                                        int64_t window_seconds) {
  RateLimitHeaders headers;
  if (!decision.from_agent() || !decision.rule_matched()) return headers;
  const std::string name = Quoted(policy_name);
  headers.policy = name + ";q=" + std::to_string(decision.limit);
  if (window_seconds > 0) {
    headers.policy += ";w=" + std::to_string(window_seconds);
  }
  headers.rate_limit =
      name +
      ";r=" + std::to_string(decision.remaining < 0 ? 0 : decision.remaining) +
      ";t=" + std::to_string(CeilSeconds(decision.reset_after_ms));
  if (!decision.allowed && decision.retry_after_ms >= 0) {
    // At least one second: "Retry-After: 0" would invite a busy loop.
    int64_t seconds = CeilSeconds(decision.retry_after_ms);
    headers.retry_after = std::to_string(seconds < 1 ? 1 : seconds);
  }
  return headers;
}

}  // namespace sluice::client
