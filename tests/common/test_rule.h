// Helpers for building rules in tests.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/rule.h"

namespace sluice {
namespace testing_rules {

// A valid, enabled, enforcing rule; `match` is sorted for you.
inline Rule MakeRule(int64_t id, std::string domain,
                     std::vector<std::pair<std::string, std::string>> match,
                     int64_t limit = 10, int64_t period_ms = 1000,
                     int64_t burst = 0) {
  Rule rule;
  rule.id = id;
  rule.version = 1;
  rule.name = "rule-" + std::to_string(id);
  rule.domain = std::move(domain);
  std::sort(match.begin(), match.end());
  rule.match = std::move(match);
  rule.limit = limit;
  rule.period_ms = period_ms;
  rule.burst = burst > 0 ? burst : limit;
  return rule;
}

}  // namespace testing_rules
}  // namespace sluice
