// PlanConfig: the by-name diff of two rule sets (pure).
#include "controller/store/config_diff.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/controller/db_fixture.h"

namespace sluice {
namespace {

using testing::ValidRule;
using Names = std::vector<std::string>;

Rule Stored(const std::string& name, int64_t id, int64_t limit = 100) {
  Rule rule = ValidRule(name);
  rule.id = id;
  rule.version = 3;
  rule.limit = limit;
  return rule;
}

TEST(ConfigDiffTest, MatchesByNameIgnoringIdAndVersion) {
  std::vector<Rule> current = {Stored("keep", 1), Stored("change", 2),
                               Stored("drop", 3)};
  Rule changed = ValidRule("change");
  changed.limit = 5;
  std::vector<Rule> desired = {ValidRule("new"), changed, ValidRule("keep")};
  ConfigPlan plan = PlanConfig(current, desired);
  EXPECT_EQ(plan.diff.created, Names{"new"});
  EXPECT_EQ(plan.diff.updated, Names{"change"});
  EXPECT_EQ(plan.diff.deleted, Names{"drop"});
  EXPECT_EQ(plan.diff.unchanged, Names{"keep"});
  EXPECT_FALSE(plan.diff.changes_nothing());
  ASSERT_EQ(plan.update.size(), 1u);
  EXPECT_EQ(plan.update[0].first.id, 2);  // the stored row to change
  EXPECT_EQ(plan.update[0].second.limit, 5);
  ASSERT_EQ(plan.remove.size(), 1u);
  EXPECT_EQ(plan.remove[0].id, 3);
  ASSERT_EQ(plan.create.size(), 1u);
  EXPECT_EQ(plan.create[0].name, "new");
}

TEST(ConfigDiffTest, EveryFieldCounts) {
  Rule base = Stored("r", 1);
  std::vector<Rule> variants(8, ValidRule("r"));
  variants[0].domain = "other";
  variants[1].match = {{"client_id", "acme"}};
  variants[2].limit = 1;
  variants[3].period_ms = 60000;
  variants[4].burst = 1;
  variants[5].mode = RuleMode::kShadow;
  variants[6].failure_mode = FailureMode::kClosed;
  variants[7].enabled = false;
  for (const Rule& variant : variants) {
    EXPECT_FALSE(SameRuleContent(base, variant));
    EXPECT_EQ(PlanConfig({base}, {variant}).diff.updated, Names{"r"});
  }
  EXPECT_TRUE(SameRuleContent(base, ValidRule("r")));
}

TEST(ConfigDiffTest, ListsAreSortedAndEmptySetsWork) {
  ConfigPlan all_new =
      PlanConfig({}, {ValidRule("c"), ValidRule("a"), ValidRule("b")});
  EXPECT_EQ(all_new.diff.created, (Names{"a", "b", "c"}));
  ConfigPlan all_gone = PlanConfig({Stored("z", 1), Stored("y", 2)}, {});
  EXPECT_EQ(all_gone.diff.deleted, (Names{"y", "z"}));
  EXPECT_TRUE(PlanConfig({}, {}).diff.changes_nothing());
  EXPECT_TRUE(
      PlanConfig({Stored("a", 1)}, {ValidRule("a")}).diff.changes_nothing());
}

}  // namespace
}  // namespace sluice
