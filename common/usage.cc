#include "common/usage.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "common/json_util.h"

namespace sluice {
namespace {

int64_t FloorTo(int64_t ms, int64_t unit) {
  int64_t q = ms / unit;
  if (ms % unit != 0 && ms < 0) --q;
  return q * unit;
}

}  // namespace

int64_t MinuteStart(int64_t ms) { return FloorTo(ms, kMillisPerMinute); }
int64_t HourStart(int64_t ms) { return FloorTo(ms, kMillisPerHour); }

std::string_view UsageRankingName(UsageRanking by) {
  return by == UsageRanking::kRefused ? "refused" : "allowed";
}

bool ParseUsageRanking(std::string_view text, UsageRanking* out) {
  if (text == "refused") {
    *out = UsageRanking::kRefused;
  } else if (text == "allowed") {
    *out = UsageRanking::kAllowed;
  } else {
    return false;
  }
  return true;
}

UsageSummary ToUsageSummary(int64_t rule_id, int64_t minute_ms, UsageRanking by,
                            const HeavyHitters& summary) {
  UsageSummary out;
  out.rule_id = rule_id;
  out.minute_ms = minute_ms;
  out.by = by;
  out.capacity = static_cast<int64_t>(summary.capacity());
  out.floor = summary.floor();
  out.total = summary.total();
  out.entries = summary.entries();
  return out;
}

bool FromUsageSummary(const UsageSummary& summary, HeavyHitters* out) {
  if (summary.capacity < 1 || summary.capacity > kMaxUsageSummaryCapacity) {
    return false;
  }
  return HeavyHitters::FromParts(static_cast<size_t>(summary.capacity),
                                 summary.entries, summary.floor, summary.total,
                                 out);
}

std::string UsageClientKey(const std::vector<std::string>& values) {
  nlohmann::json array = nlohmann::json::array();
  for (const std::string& value : values) array.push_back(value);
  return json_util::SafeDump(array);
}

bool ParseUsageClientKey(std::string_view key, std::vector<std::string>* out) {
  const nlohmann::json j =
      nlohmann::json::parse(key.begin(), key.end(), nullptr, false);
  if (j.is_discarded() || !j.is_array()) return false;
  std::vector<std::string> values;
  for (const nlohmann::json& v : j) {
    if (!v.is_string()) return false;
    values.push_back(v.get<std::string>());
  }
  *out = std::move(values);
  return true;
}

}  // namespace sluice
