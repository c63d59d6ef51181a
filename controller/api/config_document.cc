#include "controller/api/config_document.h"

#include <algorithm>
#include <map>
#include <utility>

#include "common/rule_json.h"
#include "common/status.h"

namespace sluice {
namespace {

using nlohmann::json;

constexpr const char* kExample =
    "send {\"rules\": [{\"name\": \"search\", \"domain\": \"api\", "
    "\"limit\": 100, \"period\": \"1s\"}, ...]} (GET /api/v1/config shows "
    "the current one)";

std::string At(size_t index) { return "rules[" + std::to_string(index) + "]"; }

}  // namespace

std::vector<ConfigProblem> ParseConfigDocument(const json& doc,
                                               std::vector<Rule>* rules) {
  std::vector<ConfigProblem> problems;
  if (!doc.is_object()) {
    problems.push_back(
        {"", "the config must be a JSON object; " + std::string(kExample)});
    return problems;
  }
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (it.key() != "rules") {
      problems.push_back({it.key(), "unknown field '" + it.key() +
                                        "'; the config has only \"rules\""});
    }
  }
  auto list = doc.find("rules");
  if (list == doc.end() || !list->is_array()) {
    problems.push_back(
        {"rules", std::string(list == doc.end() ? "rules is missing"
                                                : "rules must be an array") +
                      "; " + kExample});
    return problems;
  }
  if (list->size() > kMaxConfigRules) {
    problems.push_back({"rules", "the config has " +
                                     std::to_string(list->size()) +
                                     " rules; the most allowed is " +
                                     std::to_string(kMaxConfigRules)});
    return problems;
  }
  std::vector<Rule> parsed;
  std::map<std::string, size_t> first_with_name;
  for (size_t i = 0; i < list->size(); ++i) {
    const json& item = (*list)[i];
    std::vector<Status> found = RuleJsonProblems(item);
    for (const Status& problem : found) {
      std::string field = At(i);
      if (!problem.field().empty()) field += "." + problem.field();
      problems.push_back({field, problem.message()});
    }
    if (!found.empty()) continue;
    StatusOr<Rule> rule = RuleFromJson(item);
    if (!rule.ok()) {  // RuleJsonProblems promises this cannot happen
      problems.push_back({At(i), rule.status().message()});
      continue;
    }
    auto [previous, inserted] = first_with_name.emplace(rule->name, i);
    if (!inserted) {
      problems.push_back(
          {At(i) + ".name", "the name '" + rule->name + "' is also used by " +
                                At(previous->second) +
                                "; rules are matched by name, so names must "
                                "be unique"});
      continue;
    }
    parsed.push_back(std::move(rule).value());
  }
  if (problems.empty()) *rules = std::move(parsed);
  return problems;
}

json ConfigDocumentJson(std::vector<Rule> rules) {
  std::sort(rules.begin(), rules.end(),
            [](const Rule& a, const Rule& b) { return a.name < b.name; });
  json list = json::array();
  for (const Rule& rule : rules) {
    json item = RuleToJson(rule);
    item.erase("id");
    item.erase("version");
    list.push_back(std::move(item));
  }
  return json{{"rules", std::move(list)}};
}

}  // namespace sluice
