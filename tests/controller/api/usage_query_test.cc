#include "controller/api/usage_query.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace sluice {
namespace {

using Params = std::map<std::string, std::string>;

// 2027-01-15T08:00:30Z
constexpr int64_t kNow = 1'800'000'030'000;
const UsageRetention kRetention;

TEST(UsageQueryTest, ParsesTimesAsMillisOrRfc3339) {
  EXPECT_EQ(*ParseUsageTime("1800000000000", "from"), 1'800'000'000'000);
  EXPECT_EQ(*ParseUsageTime("2027-01-15T08:00:00Z", "from"), 1'800'000'000'000);
  EXPECT_EQ(*ParseUsageTime("1970-01-01T00:00:01.5Z", "to"), 1500);
  EXPECT_EQ(*ParseUsageTime("1970-01-01T01:00:00+01:00", "to"), 0);
  EXPECT_EQ(*ParseUsageTime("2024-02-29T00:00:00Z", "to"), 1'709'164'800'000);
  for (const char* bad :
       {"", "yesterday", "2027-13-01T00:00:00Z", "2023-02-29T00:00:00Z",
        "2027-01-15 08:00:00Z", "-5", "2027-01-15T08:00:00"}) {
    StatusOr<int64_t> parsed = ParseUsageTime(bad, "from");
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().field(), "from");
  }
}

TEST(UsageQueryTest, SeriesDefaultsToTheLastHourPerMinute) {
  StatusOr<UsageSeriesQuery> q = ParseUsageSeriesQuery({}, kNow, kRetention);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->rule_id, 0);
  EXPECT_EQ(q->to_ms, kNow);
  EXPECT_EQ(q->from_ms, MinuteStart(kNow - kMillisPerHour));
  EXPECT_EQ(q->step_ms, kMillisPerMinute);
  EXPECT_EQ(q->resolution, UsageResolution::kMinute);
  // 60 whole minutes and the current, partial one.
  EXPECT_EQ(q->points, 61);
}

TEST(UsageQueryTest, DefaultStepGivesAtMost500Points) {
  const int64_t day = 86'400'000;
  StatusOr<UsageSeriesQuery> q = ParseUsageSeriesQuery(
      {{"from", std::to_string(kNow - 6 * day)}, {"rule", "7"}}, kNow,
      kRetention);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->rule_id, 7);
  EXPECT_LE(q->points, 500);
  EXPECT_EQ(q->step_ms % kMillisPerMinute, 0);
}

TEST(UsageQueryTest, OlderWindowsUseHoursAndStepsRoundUp) {
  const int64_t day = 86'400'000;
  StatusOr<UsageSeriesQuery> q = ParseUsageSeriesQuery(
      {{"from", std::to_string(kNow - 30 * day)}, {"step", "1m"}}, kNow,
      kRetention);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->resolution, UsageResolution::kHour);
  EXPECT_EQ(q->step_ms, kMillisPerHour);
  EXPECT_EQ(q->from_ms % kMillisPerHour, 0);
}

TEST(UsageQueryTest, RefusesBadInputNamingTheField) {
  const int64_t day = 86'400'000;
  struct Case {
    Params params;
    std::string field;
  };
  const Case cases[] = {
      {{{"from", std::to_string(kNow)}, {"to", std::to_string(kNow - 1)}},
       "from"},
      {{{"from", std::to_string(kNow - 91 * day)}}, "from"},
      {{{"step", "0"}}, "step"},
      {{{"step", "0s"}}, "step"},
      {{{"step", "fast"}}, "step"},
      // Seven days per minute: more than kMaxUsagePoints points.
      {{{"step", "1ms"}, {"from", std::to_string(kNow - 7 * day + 120'000)}},
       "step"},
      {{{"rule", "x"}}, "rule"},
      {{{"rule", "0"}}, "rule"},
      {{{"to", "soon"}}, "to"},
  };
  for (const Case& c : cases) {
    StatusOr<UsageSeriesQuery> q =
        ParseUsageSeriesQuery(c.params, kNow, kRetention);
    ASSERT_FALSE(q.ok()) << c.field;
    EXPECT_EQ(q.status().code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(q.status().field(), c.field) << q.status().message();
  }
}

TEST(UsageQueryTest, TopNeedsARuleAndChecksLimitAndBy) {
  EXPECT_EQ(ParseUsageTopQuery({}, kNow, kRetention).status().field(), "rule");
  EXPECT_EQ(
      ParseUsageTopQuery({{"rule", "1"}, {"limit", "1001"}}, kNow, kRetention)
          .status()
          .field(),
      "limit");
  EXPECT_EQ(
      ParseUsageTopQuery({{"rule", "1"}, {"limit", "0"}}, kNow, kRetention)
          .status()
          .field(),
      "limit");
  EXPECT_EQ(
      ParseUsageTopQuery({{"rule", "1"}, {"by", "most"}}, kNow, kRetention)
          .status()
          .field(),
      "by");
  EXPECT_EQ(
      ParseUsageTopQuery(
          {{"rule", "1"}, {"from", std::to_string(kNow - 8 * 86'400'000LL)}},
          kNow, kRetention)
          .status()
          .field(),
      "from");
  StatusOr<UsageTopQuery> q = ParseUsageTopQuery(
      {{"rule", "3"}, {"by", "allowed"}, {"limit", "1000"}}, kNow, kRetention);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->by, UsageRanking::kAllowed);
  EXPECT_EQ(q->limit, 1000);
  EXPECT_EQ(q->resolution, UsageResolution::kMinute);
  q = ParseUsageTopQuery(
      {{"rule", "3"}, {"from", std::to_string(kNow - 86'400'000LL)}}, kNow,
      kRetention);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->resolution, UsageResolution::kHour);
  EXPECT_EQ(q->from_ms % kMillisPerHour, 0);
}

TEST(UsageQueryTest, RulesDefaultsTo60PointsAndAtMost500) {
  const int64_t day = 86'400'000;
  StatusOr<UsageRulesQuery> q = ParseUsageRulesQuery(
      {{"from", std::to_string(kNow - 3 * day)}}, kNow, kRetention);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->limit, 100);
  EXPECT_EQ(q->window.rule_id, 0);
  EXPECT_LE(q->window.points, kDefaultUsageRulesPoints);
  EXPECT_GT(q->window.points, kDefaultUsageRulesPoints / 2);
  q = ParseUsageRulesQuery({{"limit", "8"}, {"step", "1h"}}, kNow, kRetention);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->limit, 8);
  EXPECT_EQ(q->window.step_ms, kMillisPerHour);
  // 3 days per minute is 4,320 points: more than /usage/rules gives.
  StatusOr<UsageRulesQuery> many = ParseUsageRulesQuery(
      {{"from", std::to_string(kNow - 3 * day)}, {"step", "1m"}}, kNow,
      kRetention);
  ASSERT_FALSE(many.ok());
  EXPECT_EQ(many.status().field(), "step");
  for (const char* bad : {"0", "10001", "x"}) {
    StatusOr<UsageRulesQuery> limit =
        ParseUsageRulesQuery({{"limit", bad}}, kNow, kRetention);
    ASSERT_FALSE(limit.ok()) << bad;
    EXPECT_EQ(limit.status().field(), "limit");
  }
}

}  // namespace
}  // namespace sluice
