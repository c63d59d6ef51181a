// YAML (yaml-cpp) to JSON, for reading configuration written in YAML with
// the JSON-based converters: maps become objects, sequences arrays, null
// (`~`, `null`, nothing) null, and every other scalar a string, exactly as
// written (no number guessing: "007" stays "007"; converters read numbers
// and booleans from text).
//
// Thread-safe (no shared state).
#pragma once

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"

namespace sluice {

nlohmann::json YamlToJson(const YAML::Node& node);

// Reads and parses the YAML file at `path` (one document). The error says
// which file, line and column, and what was wrong.
StatusOr<nlohmann::json> LoadYamlFileAsJson(const std::string& path);

}  // namespace sluice
