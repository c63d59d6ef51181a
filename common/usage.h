// Usage analytics in the core: what an agent reports about its decisions
// (exact counts per rule per minute, and the heaviest clients per rule per
// minute as Space-Saving summaries, common/heavy_hitters.h), the key a
// client (a bucket's wildcard values) has in those summaries, and the
// minute and hour arithmetic both sides share. docs/analytics.md explains
// what is counted and how exact it is.
//
// Times are Unix milliseconds, passed in (the core reads no clock).
//
// Pure functions and plain values; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/heavy_hitters.h"

namespace sluice {

constexpr int64_t kMillisPerMinute = 60'000;
constexpr int64_t kMillisPerHour = 3'600'000;

// The start of the minute (hour) holding `ms` (floor, also below 0).
int64_t MinuteStart(int64_t ms);
int64_t HourStart(int64_t ms);

// What a ranking of clients orders by.
enum class UsageRanking { kRefused, kAllowed };
std::string_view UsageRankingName(UsageRanking by);  // "refused"|"allowed"
bool ParseUsageRanking(std::string_view text, UsageRanking* out);

// Exact decisions of one rule in one minute (checks, one per matched rule
// per check: see agent/check/checker.h).
struct UsageCounts {
  int64_t rule_id = 0;
  int64_t minute_ms = 0;  // MinuteStart
  int64_t allowed = 0;
  int64_t refused = 0;
  int64_t shadow_refused = 0;
};

// One Space-Saving summary of a rule's clients in one minute, ranked `by`
// (count = tokens refused, other = tokens admitted; or the reverse), as it
// travels: the parts of HeavyHitters::FromParts, checked by the receiver.
struct UsageSummary {
  int64_t rule_id = 0;
  int64_t minute_ms = 0;
  UsageRanking by = UsageRanking::kRefused;
  int64_t capacity = 0;
  int64_t floor = 0;
  int64_t total = 0;
  std::vector<HeavyHitter> entries;
};

// The summary's parts from a HeavyHitters.
UsageSummary ToUsageSummary(int64_t rule_id, int64_t minute_ms, UsageRanking by,
                            const HeavyHitters& summary);
// The HeavyHitters a summary describes; false when HeavyHitters::FromParts
// refuses its parts (or the capacity is out of 1..kMaxUsageSummaryCapacity).
constexpr int64_t kMaxUsageSummaryCapacity = 65536;
bool FromUsageSummary(const UsageSummary& summary, HeavyHitters* out);

// A client's key in the summaries: its wildcard values (rule match order)
// as a JSON array of strings (`["42"]`; bytes that are not UTF-8 are
// replaced by U+FFFD, so such values may share a key).
std::string UsageClientKey(const std::vector<std::string>& values);
// The values of a key; false when it is not a JSON array of strings.
bool ParseUsageClientKey(std::string_view key, std::vector<std::string>* out);

}  // namespace sluice
