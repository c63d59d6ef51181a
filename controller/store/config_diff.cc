#include "controller/store/config_diff.h"

#include <map>

namespace sluice {

bool SameRuleContent(const Rule& a, const Rule& b) {
  Rule x = a;
  Rule y = b;
  x.id = y.id = 0;
  x.version = y.version = 0;
  return x == y;
}

ConfigPlan PlanConfig(const std::vector<Rule>& current,
                      const std::vector<Rule>& desired) {
  std::map<std::string, const Rule*> now;
  for (const Rule& rule : current) now[rule.name] = &rule;
  std::map<std::string, const Rule*> wanted;
  for (const Rule& rule : desired) wanted[rule.name] = &rule;

  // Both maps iterate by name, so every list comes out sorted.
  ConfigPlan plan;
  for (const auto& [name, rule] : wanted) {
    auto it = now.find(name);
    if (it == now.end()) {
      plan.create.push_back(*rule);
      plan.diff.created.push_back(name);
    } else if (!SameRuleContent(*it->second, *rule)) {
      plan.update.emplace_back(*it->second, *rule);
      plan.diff.updated.push_back(name);
    } else {
      plan.diff.unchanged.push_back(name);
    }
  }
  for (const auto& [name, rule] : now) {
    if (wanted.count(name) == 0) {
      plan.remove.push_back(*rule);
      plan.diff.deleted.push_back(name);
    }
  }
  return plan;
}

}  // namespace sluice
