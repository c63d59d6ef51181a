// The config document (controller/api/config_document.h) in YAML, for
// GET /api/v1/config with "Accept: application/yaml" and PUT with
// "Content-Type: application/yaml" (docs/rules-as-code.md).
//
// The YAML is the same document as the JSON, {rules: [...]}, with the same
// field names and types. Unlike controller/import/yaml_json.h, which keeps
// every scalar as text for converters that read numbers themselves, a
// config's plain scalars are typed as YAML 1.2's core schema says: `100` is
// a number, `true` a boolean, `null` (or nothing) null; a quoted scalar is
// always a string. The writer quotes any string that would otherwise read
// back as something else ("007", "true", "*"), so a download re-applied is
// unchanged.
//
// Pure functions (no I/O); thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace sluice {

// A YAML document that failed to parse: where (1-based) and what was
// expected or wrong.
struct YamlProblem {
  int line = 0;
  int column = 0;
  std::string message;
};

// Parses `text` (one YAML document) into JSON. On failure returns false and
// fills *problem; `out` is then unspecified.
bool ParseConfigYaml(const std::string& text, nlohmann::json* out,
                     YamlProblem* problem);

// `doc` as a block-style YAML document, ending in a newline.
std::string ConfigYaml(const nlohmann::json& doc);

// Whether a request with this Accept header should get YAML rather than
// JSON: application/yaml, application/x-yaml or text/yaml is named with a
// quality above that of application/json (ties go to the one listed
// first). Empty or "*/*" means JSON.
bool AcceptsYamlFirst(const std::string& accept);

// Whether a Content-Type names YAML (the media types above, any
// parameters).
bool IsYamlContentType(const std::string& content_type);

}  // namespace sluice
