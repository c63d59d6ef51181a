// Buckets decided locally, through the Checker with the agent's default
// timing: far below their share they send reports (want 0, nothing left in
// flight), not lease requests, and the sweep sends the last report before
// it evicts them, unless the report is moot (the agent alone on the
// budget, the bucket refilled). (The decision itself:
// tests/common/local_bucket_local_test.cc.)
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/check/checker.h"
#include "common/clock.h"
#include "tests/common/test_rule.h"

namespace sluice {
namespace {

constexpr int64_t kMs = kNanosPerMilli;
constexpr int64_t kSec = kNanosPerSecond;

class CheckerLocalTest : public ::testing::Test {
 protected:
  CheckerLocalTest() {
    // Per client, 100/s, burst 100.
    checker_.SetRules(
        RuleIndex::Build({testing_rules::MakeRule(1, "api", {{"client", "*"}},
                                                  100, 1000, 100)},
                         1),
        now_);
  }

  bool Check(const char* client, int64_t cost = 1) {
    Decision out;
    EXPECT_EQ(checker_.Check("api", cost, {{"client", client}}, now_, &out),
              Checker::Result::kDone);
    return out.allowed == 1;
  }

  std::vector<LeaseWant> Wants() {
    std::vector<LeaseWant> wants;
    checker_.TakeLeaseWants(now_, &wants);
    return wants;
  }

  Checker checker_{1000};
  int64_t now_ = 1000 * kSec;
};

TEST_F(CheckerLocalTest, FarBelowTheShareNothingIsAskedThenOneReport) {
  // Two agents spend the budget: the controller needs the report.
  checker_.SetLeaseContext(LeaseContext{true, 2});
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(Check("a"));
    now_ += 100 * kMs;
  }
  EXPECT_TRUE(Wants().empty());
  EXPECT_EQ(checker_.pending_leases(), 0u);
  // The sweep sends its report once it is 5 s old, then evicts it.
  std::vector<LeaseWant> wants;
  checker_.Sweep(now_, 100, &wants);
  EXPECT_TRUE(wants.empty());
  now_ += 4 * kSec;
  checker_.Sweep(now_, 100, &wants);
  ASSERT_EQ(wants.size(), 1u);
  EXPECT_EQ(wants[0].want, 0);
  EXPECT_EQ(wants[0].admitted, 10);
  EXPECT_EQ(wants[0].unleased, 10);
  EXPECT_EQ(checker_.table().size(), 1u);
  wants.clear();
  const Checker::SweepStats stats = checker_.Sweep(now_, 100, &wants);
  EXPECT_TRUE(wants.empty());
  EXPECT_EQ(stats.evicted, 1u);
}

// The only agent of a budget: the same quiet bucket, refilled, is evicted
// without its report, which goes to `unsent` (for the usage summaries).
TEST_F(CheckerLocalTest, AloneOnTheBudgetTheQuietReportIsNotSent) {
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(Check("a"));
    now_ += 100 * kMs;
  }
  std::vector<LeaseWant> wants, unsent;
  checker_.Sweep(now_, 100, &wants, &unsent);
  EXPECT_TRUE(wants.empty());
  EXPECT_TRUE(unsent.empty());  // not quiet for 5 s yet
  now_ += 4 * kSec;
  const Checker::SweepStats stats = checker_.Sweep(now_, 100, &wants, &unsent);
  EXPECT_TRUE(wants.empty());
  EXPECT_EQ(stats.moot, 1u);
  EXPECT_EQ(stats.evicted, 1u);
  EXPECT_EQ(checker_.table().size(), 0u);
  ASSERT_EQ(unsent.size(), 1u);
  EXPECT_EQ(unsent[0].rule_id, 1);
  EXPECT_EQ(unsent[0].values, std::vector<std::string>{"a"});
  EXPECT_EQ(unsent[0].want, 0);
  EXPECT_EQ(unsent[0].admitted, 10);
  EXPECT_EQ(unsent[0].unleased, 10);
}

// Still checked, the same bucket is evicted without its report too: a
// check leaves the only agent's quiet report to the sweep.
TEST_F(CheckerLocalTest, AloneOnTheBudgetACheckSendsNoQuietReport) {
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(Check("a"));
    EXPECT_TRUE(Wants().empty()) << "check " << i;
    now_ += 500 * kMs;
  }
  std::vector<LeaseWant> wants, unsent;
  const Checker::SweepStats stats = checker_.Sweep(now_, 100, &wants, &unsent);
  EXPECT_TRUE(wants.empty());
  EXPECT_EQ(stats.moot, 1u);
  ASSERT_EQ(unsent.size(), 1u);
  EXPECT_EQ(unsent[0].admitted, 12);
}

// A bucket that has not refilled still reports, alone or not: the
// controller's budget must be charged before it grants the rest.
TEST_F(CheckerLocalTest, AloneOnTheBudgetABucketNotRefilledReports) {
  // Per client, 100 an hour, burst 100: 10 checks take 6 minutes to refill.
  checker_.SetRules(
      RuleIndex::Build({testing_rules::MakeRule(2, "slow", {{"client", "*"}},
                                                100, 3'600'000, 100)},
                       2),
      now_);
  for (int i = 0; i < 10; ++i) {
    Decision out;
    ASSERT_EQ(checker_.Check("slow", 1, {{"client", "a"}}, now_, &out),
              Checker::Result::kDone);
    ASSERT_EQ(out.allowed, 1);
  }
  now_ += 5 * kSec;
  std::vector<LeaseWant> wants, unsent;
  const Checker::SweepStats stats = checker_.Sweep(now_, 100, &wants, &unsent);
  EXPECT_EQ(stats.moot, 0u);
  EXPECT_TRUE(unsent.empty());
  ASSERT_EQ(wants.size(), 1u);
  EXPECT_EQ(wants[0].want, 0);
  EXPECT_EQ(wants[0].unleased, 10);
}

TEST_F(CheckerLocalTest, ABurstOverHalfTheShareAsksForALease) {
  for (int i = 0; i < 51; ++i) ASSERT_TRUE(Check("b"));
  std::vector<LeaseWant> wants = Wants();
  ASSERT_EQ(wants.size(), 1u);
  EXPECT_EQ(wants[0].want, 100);
  EXPECT_EQ(wants[0].unleased, 51);
  // A request is in flight: no other goes before its answer (or timeout).
  ASSERT_TRUE(Check("b"));
  EXPECT_TRUE(Wants().empty());
}

// A table more than half full does not hold buckets for the quiet delay:
// the sweep reports them at once and evicts them on its next pass.
TEST(CheckerLocalPressureTest, AFullerTableReportsAndEvictsAtOnce) {
  Checker checker(4);
  int64_t now = 1000 * kSec;
  checker.SetRules(
      RuleIndex::Build({testing_rules::MakeRule(1, "api", {{"client", "*"}},
                                                100, 1000, 100)},
                       1),
      now);
  checker.SetLeaseContext(LeaseContext{true, 2});  // reports are needed
  for (const char* client : {"a", "b", "c"}) {
    Decision out;
    ASSERT_EQ(checker.Check("api", 1, {{"client", client}}, now, &out),
              Checker::Result::kDone);
  }
  now += 100 * kMs;  // past the minimum interval, far from the quiet delay
  std::vector<LeaseWant> wants;
  checker.Sweep(now, 100, &wants);
  EXPECT_EQ(wants.size(), 3u);  // reports, at once
  for (const LeaseWant& want : wants) EXPECT_EQ(want.want, 0);
  wants.clear();
  EXPECT_EQ(checker.Sweep(now + kMs, 100, &wants).evicted, 3u);
}

// The agent stops: every bucket with something unreported says it at
// once (want 0), whatever its quiet time; a bucket already reported, and
// the pending requests, say nothing.
TEST_F(CheckerLocalTest, FinalReportsTellWhatEveryBucketSpentSinceItsLast) {
  checker_.SetLeaseContext(LeaseContext{true, 2});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Check("a"));
  ASSERT_TRUE(Check("b", 2));
  ASSERT_TRUE(Check("c"));
  now_ += 6 * kSec;
  std::vector<LeaseWant> swept;
  checker_.Sweep(now_, 100, &swept);  // c's (and a's, b's) quiet reports
  ASSERT_EQ(swept.size(), 3u);
  ASSERT_TRUE(Check("a"));
  ASSERT_FALSE(Check("b", 60));  // refused: more than the share (50)
  now_ += 10 * kMs;
  std::vector<LeaseWant> reports;
  checker_.TakeFinalReports(now_, &reports);
  ASSERT_EQ(reports.size(), 2u);
  for (const LeaseWant& w : reports) {
    EXPECT_EQ(w.rule_id, 1);
    EXPECT_EQ(w.want, 0);
    ASSERT_EQ(w.values.size(), 1u);
    if (w.values[0] == "a") {
      EXPECT_EQ(w.admitted, 1);
      EXPECT_EQ(w.refused, 0);
    } else {
      EXPECT_EQ(w.values[0], "b");
      EXPECT_EQ(w.admitted, 0);
      EXPECT_EQ(w.refused, 60);
    }
  }
  EXPECT_EQ(checker_.pending_leases(), 0u);
  // Said once.
  reports.clear();
  checker_.TakeFinalReports(now_, &reports);
  EXPECT_TRUE(reports.empty());
}

}  // namespace
}  // namespace sluice
