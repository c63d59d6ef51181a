// Conversion of envoyproxy/ratelimit's configuration into Sluice rules (the
// config document of GET/PUT /api/v1/config), for migrating.
//
// Input: one envoy configuration file, already parsed (YAML as JSON; a
// scalar may be a JSON string, number or boolean):
//
//   domain: messaging
//   descriptors:
//     - key: message_type
//       value: marketing
//       descriptors:
//         - key: to_number
//           rate_limit: {unit: day, requests_per_unit: 5}
//
// Every descriptor with a rate_limit becomes one rule: its domain, a match
// of every key/value on the path from the top (a key without a value
// matches any value, each its own bucket: "*"), limit requests_per_unit,
// period the unit ("1s", "1m", "1h", "1d"; week, month and year as "7d",
// "30d", "365d"), burst = limit, mode shadow for shadow_mode. Names are
// made from the path: "messaging.message_type_marketing.to_number".
//
// What has no exact Sluice equivalent is listed in `notes`, never dropped
// silently: replaces (both rules apply), unlimited (a rule of the largest
// limit, so it still overrides a wildcard sibling), detailed_metric
// (ignored), keys without values (wildcards), envoy's rate_limit names
// (rules are named by path), and, skipped with a note,
// requests_per_unit 0, prefix wildcards ("value*"), a key twice on one path.
// Input that is not an envoy configuration is listed in `errors`.
//
// Pure (no I/O, no exceptions); thread-compatible.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

struct EnvoyImportNote {
  std::string where;  // "<source>: descriptors[0].descriptors[1]"
  std::string message;
};

struct EnvoyImport {
  nlohmann::json rules = nlohmann::json::array();  // rule objects, in order
  std::set<std::string> domains;                   // domains converted
  std::vector<EnvoyImportNote> notes;              // converted, but not exactly
  std::vector<EnvoyImportNote> skipped;  // descriptors that made no rule
  std::vector<EnvoyImportNote> errors;   // not an envoy configuration
};

// The limit an `unlimited` descriptor gets: the largest Sluice allows.
constexpr int64_t kEnvoyUnlimited = int64_t{1} << 53;

// Adds the rules of `config` to *out. `source` names it in notes (a file
// name). Rule names are unique across everything added to *out.
void ConvertEnvoyConfig(const nlohmann::json& config, std::string_view source,
                        EnvoyImport* out);

// {"rules": [...]}: the config document of the rules converted.
nlohmann::json EnvoyImportDocument(const EnvoyImport& import);

}  // namespace sluice
