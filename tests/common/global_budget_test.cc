#include "common/global_budget.h"

#include <gtest/gtest.h>

#include "common/clock.h"
#include "tests/common/test_rule.h"

namespace sluice {
namespace {

using testing_rules::MakeRule;

constexpr int64_t kMs = kNanosPerMilli;

// 10 per second, burst 20.
Rule TestRule() { return MakeRule(1, "api", {}, 10, 1000, 20); }

TEST(GlobalBudgetTest, StartsFullAndGrantsUpToWhatExists) {
  GlobalBudget budget(TestRule(), 0);
  EXPECT_DOUBLE_EQ(budget.Available(0), 20);
  EXPECT_EQ(budget.Grant(0, 8, 0), 8);
  EXPECT_EQ(budget.Grant(0, 100, 0), 12);
  EXPECT_EQ(budget.Grant(0, 1, 0), 0);
}

TEST(GlobalBudgetTest, NeverGrantsTheSameTokensTwice) {
  GlobalBudget budget(TestRule(), 0);
  int64_t granted = 0;
  // Three agents asking every 100 ms for 10 s: at most burst + rate * 10 s.
  for (int64_t t = 0; t <= 10000; t += 100) {
    for (int agent = 0; agent < 3; ++agent) {
      granted += budget.Grant(t * kMs, 5, 0);
    }
  }
  EXPECT_LE(granted, 20 + 10 * 10);
  EXPECT_GE(granted, 20 + 10 * 10 - 1);
}

TEST(GlobalBudgetTest, RefillsAtTheRuleRate) {
  GlobalBudget budget(TestRule(), 0);
  ASSERT_EQ(budget.Grant(0, 20, 0), 20);
  EXPECT_EQ(budget.Grant(250 * kMs, 20, 0), 2);  // 2.5 whole: 2
  EXPECT_EQ(budget.Grant(300 * kMs, 20, 0), 1);  // 0.5 + 0.5
  EXPECT_EQ(budget.Grant(100000 * kMs, 100, 0), 20);
}

TEST(GlobalBudgetTest, ChargesUnleasedTokensFirst) {
  GlobalBudget budget(TestRule(), 0);
  EXPECT_EQ(budget.Grant(0, 20, 15), 5);
  EXPECT_DOUBLE_EQ(budget.Available(0), 0);
}

TEST(GlobalBudgetTest, DebtGoesNoDeeperThanBurst) {
  GlobalBudget budget(TestRule(), 0);
  EXPECT_EQ(budget.Grant(0, 0, 100), 0);
  EXPECT_DOUBLE_EQ(budget.Available(0), -20);
  // The debt is paid back before anything is granted: 2 s at 10/s.
  EXPECT_EQ(budget.Grant(1999 * kMs, 1, 0), 0);
  EXPECT_EQ(budget.Grant(2100 * kMs, 5, 0), 1);
}

TEST(GlobalBudgetTest, NothingWantedNothingGranted) {
  GlobalBudget budget(TestRule(), 0);
  EXPECT_EQ(budget.Grant(0, 0, 0), 0);
  EXPECT_EQ(budget.Grant(0, -5, 0), 0);
  EXPECT_DOUBLE_EQ(budget.Available(0), 20);
}

TEST(GlobalBudgetTest, RemembersWhenItWasLastUsed) {
  GlobalBudget budget(TestRule(), 5 * kMs);
  EXPECT_EQ(budget.last_used(), 5 * kMs);
  budget.Grant(70 * kMs, 1, 0);
  EXPECT_EQ(budget.last_used(), 70 * kMs);
  budget.Grant(10 * kMs, 1, 0);  // the clock went back: keep the latest
  EXPECT_EQ(budget.last_used(), 70 * kMs);
}

TEST(GlobalBudgetTest, ReconfigureKeepsTokensClampedToTheNewBurst) {
  GlobalBudget budget(TestRule(), 0);
  ASSERT_EQ(budget.Grant(0, 5, 0), 5);  // 15 left
  Rule smaller = TestRule();
  smaller.burst = 10;
  smaller.limit = 100;  // 100 per second
  budget.Reconfigure(smaller, 0);
  EXPECT_DOUBLE_EQ(budget.Available(0), 10);
  EXPECT_EQ(budget.Grant(0, 100, 0), 10);
  EXPECT_EQ(budget.Grant(50 * kMs, 100, 0), 5);
}

}  // namespace
}  // namespace sluice
