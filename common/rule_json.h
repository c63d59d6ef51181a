// Conversion between Rule and its JSON form (the REST admin API's, see
// docs/design.md "REST admin API" and docs/openapi.yaml):
//
//   {"name": "search-per-client", "domain": "api",
//    "match": {"route": "/search", "client_id": "*"},
//    "limit": 100, "period": "1s", "burst": 200,
//    "mode": "enforce", "failure_mode": "local", "enabled": true}
//
// Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "common/rule.h"
#include "common/status.h"

namespace sluice {

constexpr int64_t kMaxLimit = 1LL << 53;  // limit and burst upper bound
constexpr size_t kMaxNameBytes = 128;     // rule name and domain
constexpr size_t kMaxMatchKeys = 16;
constexpr size_t kMaxMatchKeyBytes = 128;
constexpr size_t kMaxMatchValueBytes = 256;

// Parses and validates a rule written by a user. Required: name, domain,
// limit, period. Optional: match (default {}), burst (default limit), mode
// (default "enforce"), failure_mode (default "local"), enabled (default
// true); an optional field that is null takes its default. "id" and
// "version" are accepted and copied when they are integers >= 0 (the caller
// decides whether they matter; anything else is refused); any other unknown
// field is refused. On failure the Status is InvalidArgument, names the field
// ("limit", "match.client_id") and says what would be valid.
//
// Validation: name and domain are 1..128 bytes of [A-Za-z0-9_.:/-];
// match keys are 1..128 bytes, values 1..256 bytes, neither containing
// control characters or spaces; limit and burst are integers in
// [1, 2^53]; period parses with ParseDurationMillis.
StatusOr<Rule> RuleFromJson(const nlohmann::json& j);

// Every problem RuleFromJson would find in `j`, not only the first: each
// unknown field, and the first problem of each known field (in the order
// RuleFromJson checks them). Empty exactly when RuleFromJson(j) is OK. For
// listing all problems of a document at once (PUT /api/v1/config).
std::vector<Status> RuleJsonProblems(const nlohmann::json& j);

// Validates a Rule built in code, with the same checks and messages as
// RuleFromJson, plus: match sorted by key with unique keys, match keys and
// values valid UTF-8, id and version >= 0.
Status ValidateRule(const Rule& rule);

// The JSON form, including "id" and "version"; period is written with
// FormatDurationMillis. RuleFromJson(RuleToJson(r)) == r.
nlohmann::json RuleToJson(const Rule& rule);

}  // namespace sluice
