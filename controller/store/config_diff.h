// ConfigPlan: what replacing the current rule set with a desired one does,
// rule by rule, matched by name: rules only in the desired set are
// created, rules only in the current one deleted, rules in both whose
// content (everything but id and version) differs updated, the rest left
// alone.
//
// A pure function (no I/O), kept in controller/ because only ConfigStore
// uses it; thread-safe.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/rule.h"

namespace sluice {

// The names affected, each list sorted.
struct ConfigDiff {
  std::vector<std::string> created;
  std::vector<std::string> updated;
  std::vector<std::string> deleted;
  std::vector<std::string> unchanged;

  bool changes_nothing() const {
    return created.empty() && updated.empty() && deleted.empty();
  }
};

struct ConfigPlan {
  ConfigDiff diff;
  std::vector<Rule> create;                   // desired rules, by name
  std::vector<std::pair<Rule, Rule>> update;  // (current, desired), by name
  std::vector<Rule> remove;                   // current rules, by name
};

// Whether `a` and `b` say the same thing (id and version aside).
bool SameRuleContent(const Rule& a, const Rule& b);

// `desired` must have unique names (ParseConfigDocument ensures it);
// `current` has them (the database does).
ConfigPlan PlanConfig(const std::vector<Rule>& current,
                      const std::vector<Rule>& desired);

}  // namespace sluice
