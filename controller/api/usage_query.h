// The query strings of GET /api/v1/usage and /api/v1/usage/top, parsed and
// checked against the clock and the retention (docs/analytics.md), before
// anything is read. Every refusal is InvalidArgument naming the field
// (the API answers 422).
//
//   rule   a positive rule id (/usage: optional, none = all rules;
//          /usage/top: required)
//   from   Unix milliseconds or RFC 3339; default: `to` minus one hour.
//          Must not be after `to`, nor older than what is kept.
//   to     the same; default: now (the current, partial step included)
//   step   (/usage) a duration ("1m", "1h", or milliseconds); rounded up
//          to a whole number of the resolution (a minute within the minute
//          retention, else an hour); default: the smallest that gives at
//          most 500 points; at most kMaxPoints points
//   by     (/usage/top) refused (default) or allowed
//   limit  (/usage/top) 1..1000, default 10; (/usage/rules) 1..10000,
//          default 100
//
// GET /api/v1/usage/rules takes from, to, step and limit (no rule: it
// reads every rule); its default step gives at most 60 points, and it
// allows at most kMaxUsageRulesPoints.
//
// The resolution is chosen by `from`: per minute while from is within the
// minute retention (clients: the per-minute window), else per hour (from
// is then taken back to the start of its hour).
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/usage.h"
#include "controller/store/usage_store.h"

namespace sluice {

struct UsageSeriesQuery {
  int64_t rule_id = 0;  // 0: every rule
  int64_t from_ms = 0;  // aligned to the resolution
  int64_t to_ms = 0;
  int64_t step_ms = 0;  // a multiple of the resolution
  UsageResolution resolution = UsageResolution::kMinute;
  int64_t points = 0;  // steps from from_ms up to to_ms
};

struct UsageTopQuery {
  int64_t rule_id = 0;
  int64_t from_ms = 0;  // aligned to the resolution
  int64_t to_ms = 0;
  UsageRanking by = UsageRanking::kRefused;
  int limit = 10;
  UsageResolution resolution = UsageResolution::kMinute;
};

struct UsageRulesQuery {
  UsageSeriesQuery window;  // rule_id 0
  int limit = 100;          // the busiest rules returned
};

constexpr int64_t kDefaultUsagePoints = 500;
constexpr int64_t kMaxUsagePoints = 10'000;
constexpr int kMaxUsageTopLimit = 1000;
constexpr int64_t kDefaultUsageRulesPoints = 60;
constexpr int64_t kMaxUsageRulesPoints = 500;
constexpr int kMaxUsageRulesLimit = 10'000;

// `params` as api::ParseQuery gives them.
StatusOr<UsageSeriesQuery> ParseUsageSeriesQuery(
    const std::map<std::string, std::string>& params, int64_t now_ms,
    const UsageRetention& retention,
    int64_t default_points = kDefaultUsagePoints,
    int64_t max_points = kMaxUsagePoints);
StatusOr<UsageRulesQuery> ParseUsageRulesQuery(
    const std::map<std::string, std::string>& params, int64_t now_ms,
    const UsageRetention& retention);
StatusOr<UsageTopQuery> ParseUsageTopQuery(
    const std::map<std::string, std::string>& params, int64_t now_ms,
    const UsageRetention& retention);

// "1800000000000" or an RFC 3339 date-time ("2027-01-15T08:00:00Z",
// "2027-01-15T09:00:00.250+01:00") to Unix milliseconds.
// InvalidArgument naming `field` otherwise.
StatusOr<int64_t> ParseUsageTime(std::string_view text, std::string_view field);

}  // namespace sluice
