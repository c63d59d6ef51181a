#include "agent/usage/usage_collector.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "tests/common/test_rule.h"

namespace sluice {
namespace {

using testing_rules::MakeRule;

constexpr int64_t kT0 = 1'800'000'000'000;  // a minute's start

UsageReport State() {
  UsageReport state;
  state.version = "1.2.3";
  state.rules_version = 4;
  state.buckets = 9;
  state.leases = 2;
  return state;
}

LeaseWant Want(int64_t rule, const std::string& client, int64_t admitted,
               int64_t refused) {
  LeaseWant want;
  want.rule_id = rule;
  want.values = {client};
  want.admitted = admitted;
  want.refused = refused;
  return want;
}

TEST(UsageCollectorTest, CountsAreExactPerRuleAndMinute) {
  std::shared_ptr<const RuleIndex> rules = RuleIndex::Build(
      {MakeRule(7, "api", {{"client_id", "*"}}), MakeRule(8, "api", {})}, 1);
  UsageCollector collector("web-1", 42);
  collector.AddDecisions(*rules, {{5, 1, 0}, {0, 0, 0}}, kT0 + 10);
  collector.AddDecisions(*rules, {{2, 0, 3}, {1, 0, 0}}, kT0 + 20);
  collector.AddDecisions(*rules, {{1, 0, 0}, {0, 0, 0}}, kT0 + 60'000);
  std::optional<UsageReport> report = collector.Report(kT0 + 60'001, State());
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->agent_id, "web-1");
  EXPECT_EQ(report->incarnation, 42u);
  EXPECT_EQ(report->seq, 1u);
  EXPECT_EQ(report->version, "1.2.3");
  EXPECT_EQ(report->buckets, 9);
  ASSERT_EQ(report->counts.size(), 3u);
  EXPECT_EQ(report->counts[0].rule_id, 7);
  EXPECT_EQ(report->counts[0].minute_ms, kT0);
  EXPECT_EQ(report->counts[0].allowed, 7);
  EXPECT_EQ(report->counts[0].refused, 1);
  EXPECT_EQ(report->counts[0].shadow_refused, 3);
  EXPECT_EQ(report->counts[1].minute_ms, kT0 + 60'000);
  EXPECT_EQ(report->counts[2].rule_id, 8);
  // Everything was reported: nothing more until something happens.
  EXPECT_FALSE(collector.Report(kT0 + 60'002, State()).has_value());
  collector.AddDecisions(*rules, {{1, 0, 0}, {0, 0, 0}}, kT0 + 60'003);
  EXPECT_EQ(collector.Report(kT0 + 60'004, State())->seq, 2u);
}

TEST(UsageCollectorTest, SummariesGoOutOnceTheirMinuteHasEnded) {
  UsageCollector collector("web-1", 1, /*capacity=*/4);
  collector.AddWants(
      {Want(7, "42", 10, 5), Want(7, "7", 3, 0), Want(7, "9", 0, 0)}, kT0 + 5);
  collector.AddWants({Want(7, "42", 1, 1)}, kT0 + 6);
  // The minute is still running: no summary yet (and no counts: none).
  EXPECT_FALSE(collector.Report(kT0 + 59'999, State()).has_value());
  std::optional<UsageReport> report = collector.Report(kT0 + 60'000, State());
  ASSERT_TRUE(report.has_value());
  ASSERT_EQ(report->summaries.size(), 2u);
  for (const UsageSummary& s : report->summaries) {
    EXPECT_EQ(s.rule_id, 7);
    EXPECT_EQ(s.minute_ms, kT0);
    HeavyHitters hh(1);
    ASSERT_TRUE(FromUsageSummary(s, &hh));
    const std::vector<HeavyHitter> top = hh.Top(1);
    ASSERT_EQ(top.size(), 1u);
    EXPECT_EQ(top[0].key, UsageClientKey({"42"}));
    if (s.by == UsageRanking::kRefused) {
      EXPECT_EQ(top[0].count, 6);
      EXPECT_EQ(top[0].other, 11);
      EXPECT_EQ(hh.total(), 6);
    } else {
      EXPECT_EQ(top[0].count, 11);
      EXPECT_EQ(top[0].other, 6);
      EXPECT_EQ(hh.total(), 14);
    }
  }
}

// The agent stops in the middle of a minute: its last report carries that
// minute's summaries (nothing would come after it), and its counts.
TEST(UsageCollectorTest, TheFinalReportCarriesTheRunningMinutesSummaries) {
  std::shared_ptr<const RuleIndex> rules =
      RuleIndex::Build({MakeRule(7, "api", {{"client_id", "*"}})}, 1);
  UsageCollector collector("web-1", 1, /*capacity=*/4);
  collector.AddWants({Want(7, "42", 10, 5)}, kT0 + 5);
  collector.AddWants({Want(7, "43", 2, 0)}, kT0 + 60'005);
  collector.AddDecisions(*rules, {{12, 5, 0}}, kT0 + 60'010);
  // A report in the second minute: the first minute's summaries only.
  std::optional<UsageReport> report = collector.Report(kT0 + 60'020, State());
  ASSERT_TRUE(report.has_value());
  ASSERT_EQ(report->summaries.size(), 2u);
  for (const UsageSummary& s : report->summaries) {
    EXPECT_EQ(s.minute_ms, kT0);
  }
  collector.AddDecisions(*rules, {{3, 0, 0}}, kT0 + 60'030);
  // The last one, still in the second minute: its summary (ranked by
  // admitted tokens; nothing was refused) and the counts since.
  report = collector.FinalReport(kT0 + 60'040, State());
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->seq, 2u);
  ASSERT_EQ(report->summaries.size(), 1u);
  EXPECT_EQ(report->summaries[0].minute_ms, kT0 + 60'000);
  EXPECT_EQ(report->summaries[0].by, UsageRanking::kAllowed);
  EXPECT_EQ(report->summaries[0].total, 2);
  ASSERT_EQ(report->counts.size(), 1u);
  EXPECT_EQ(report->counts[0].allowed, 3);
  // Nothing is left to send.
  EXPECT_FALSE(collector.FinalReport(kT0 + 60'050, State()).has_value());
}

// AddWants() on another thread (the lease client's) while the event loop
// reports: Report() never waits for it, and nothing is lost or counted
// twice (a minute whose summary was taken while items for it still came
// is reported again with the rest; the controller merges the two).
TEST(UsageCollectorTest, WantsFromAnotherThreadWhileReporting) {
  UsageCollector collector("web-1", 1);
  constexpr int kBatches = 2000;
  std::atomic<bool> done{false};
  std::thread lease_thread([&] {
    for (int i = 0; i < kBatches; ++i) {
      collector.AddWants({Want(7, "c" + std::to_string(i % 50), 2, 1)}, kT0);
    }
    done.store(true);
  });
  int64_t allowed = 0;
  int64_t refused = 0;
  auto take = [&] {
    std::optional<UsageReport> report = collector.Report(kT0 + 60'000, State());
    if (!report) return;
    for (const UsageSummary& s : report->summaries) {
      (s.by == UsageRanking::kAllowed ? allowed : refused) += s.total;
    }
  };
  while (!done.load()) take();
  lease_thread.join();
  take();
  EXPECT_EQ(allowed, 2 * kBatches);
  EXPECT_EQ(refused, kBatches);
}

}  // namespace
}  // namespace sluice
