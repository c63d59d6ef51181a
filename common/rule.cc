#include "common/rule.h"

namespace sluice {

std::string_view RuleModeName(RuleMode mode) {
  switch (mode) {
    case RuleMode::kEnforce:
      return "enforce";
    case RuleMode::kShadow:
      return "shadow";
  }
  return "enforce";
}

std::string_view FailureModeName(FailureMode mode) {
  switch (mode) {
    case FailureMode::kOpen:
      return "open";
    case FailureMode::kClosed:
      return "closed";
    case FailureMode::kLocal:
      return "local";
  }
  return "local";
}

bool ParseRuleMode(std::string_view text, RuleMode* out) {
  if (text == "enforce") {
    *out = RuleMode::kEnforce;
    return true;
  }
  if (text == "shadow") {
    *out = RuleMode::kShadow;
    return true;
  }
  return false;
}

bool ParseFailureMode(std::string_view text, FailureMode* out) {
  if (text == "open") {
    *out = FailureMode::kOpen;
    return true;
  }
  if (text == "closed") {
    *out = FailureMode::kClosed;
    return true;
  }
  if (text == "local") {
    *out = FailureMode::kLocal;
    return true;
  }
  return false;
}

double Rule::RatePerNano() const {
  if (period_ms <= 0 || limit <= 0) return 0.0;
  return static_cast<double>(limit) / (static_cast<double>(period_ms) * 1e6);
}

int Rule::ExactCount() const {
  int count = 0;
  for (const auto& entry : match) {
    if (entry.second != kWildcard) ++count;
  }
  return count;
}

bool operator==(const Rule& a, const Rule& b) {
  return a.id == b.id && a.version == b.version && a.name == b.name &&
         a.domain == b.domain && a.match == b.match && a.limit == b.limit &&
         a.period_ms == b.period_ms && a.burst == b.burst && a.mode == b.mode &&
         a.failure_mode == b.failure_mode && a.enabled == b.enabled;
}

}  // namespace sluice
