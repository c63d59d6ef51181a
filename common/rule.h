// Rule: the model of one rate limit, as stored by the controller and applied
// by the agents. The words (domain, descriptor, bucket, ...) are defined in
// docs/design.md, "Words"; the fields in docs/rules.md.
//
// A rule applies to a check when every key of `match` is present in the
// check's descriptor with the same value, or any value where the rule says
// kWildcard. Each distinct set of values for the wildcard keys is its own
// bucket.
//
// Plain value type; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

inline constexpr std::string_view kWildcard = "*";

enum class RuleMode { kEnforce, kShadow };
enum class FailureMode { kOpen, kClosed, kLocal };

std::string_view RuleModeName(RuleMode mode);        // "enforce"|"shadow"
std::string_view FailureModeName(FailureMode mode);  // "open"|...
bool ParseRuleMode(std::string_view text, RuleMode* out);
bool ParseFailureMode(std::string_view text, FailureMode* out);

struct Rule {
  int64_t id = 0;       // assigned by the controller; 0 before it is stored
  int64_t version = 0;  // bumped on every change of this rule
  std::string name;     // unique across all rules
  std::string domain;
  // (key, value) pairs sorted by key, keys unique. A value may be kWildcard.
  std::vector<std::pair<std::string, std::string>> match;
  int64_t limit = 0;      // tokens per period, >= 1
  int64_t period_ms = 0;  // kMinPeriodMillis..kMaxPeriodMillis
  int64_t burst = 0;      // bucket capacity, >= 1 (defaults to limit)
  RuleMode mode = RuleMode::kEnforce;
  FailureMode failure_mode = FailureMode::kLocal;
  bool enabled = true;

  // Tokens per nanosecond: limit / (period_ms * 1e6).
  double RatePerNano() const;
  // Number of match values that are not the wildcard.
  int ExactCount() const;

  friend bool operator==(const Rule& a, const Rule& b);
  friend bool operator!=(const Rule& a, const Rule& b) { return !(a == b); }
};

}  // namespace sluice
