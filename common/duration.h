// Durations as written in rules: "500ms", "1s", "1m", "1h", "1d".
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice {

constexpr int64_t kMinPeriodMillis = 1;
constexpr int64_t kMaxPeriodMillis = 365LL * 24 * 3600 * 1000;  // one year

// Parses "<positive integer><unit>" with unit one of ms, s, m, h, d into
// milliseconds. Refuses (InvalidArgument, with a message that shows the
// accepted form) an empty string, a missing or unknown unit, a sign, a
// fraction, spaces, overflow, and results outside
// [kMinPeriodMillis, kMaxPeriodMillis]. `what` names the value in the
// message: `period "10x": unknown unit "x"; write a whole number followed
// by ms, s, m, h or d, like "500ms" or "1m"`.
StatusOr<int64_t> ParseDurationMillis(std::string_view text,
                                      std::string_view what = "duration");

// The shortest exact form: 1000 -> "1s", 90000 -> "90s", 1500 -> "1500ms",
// 86400000 -> "1d". ParseDurationMillis(FormatDurationMillis(x)) == x.
std::string FormatDurationMillis(int64_t millis);

}  // namespace sluice
