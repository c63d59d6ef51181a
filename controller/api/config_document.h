// The rule set as one JSON document, for configuration as code
// (GET/PUT /api/v1/config):
//
//   {"rules": [{"name": "search-per-client", "domain": "api",
//               "match": {"route": "/search", "client_id": "*"},
//               "limit": 100, "period": "1s", "burst": 200,
//               "mode": "enforce", "failure_mode": "local",
//               "enabled": true}, ...]}
//
// Rules are identified by name; the export leaves out id and version (they
// are the server's, and would only churn a file kept in git), sorted by
// name. An imported rule may carry id and version: they are ignored.
//
// Pure functions (no I/O), kept in controller/ because only the controller
// uses them; thread-safe.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/rule.h"

namespace sluice {

constexpr size_t kMaxConfigRules = 10000;

// One problem of a document: where ("rules[3].limit", "rules[0]",
// "rules", or an unknown top-level key) and what is wrong.
struct ConfigProblem {
  std::string field;
  std::string message;
};

// Parses `doc` into `rules` (in document order). Returns every problem
// found, not only the first: each rule is checked in full (see
// RuleJsonProblems in common/rule_json.h), and names must be unique across
// the document. `rules` is filled only when there is none.
std::vector<ConfigProblem> ParseConfigDocument(const nlohmann::json& doc,
                                               std::vector<Rule>* rules);

// The export form of `rules` (see above).
nlohmann::json ConfigDocumentJson(std::vector<Rule> rules);

}  // namespace sluice
