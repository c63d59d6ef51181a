// GET /api/v1/usage, /usage/rules, /usage/top and /agents end to end: a
// hand-made agent sends usage reports over the real agent channel to an
// in-process controller on a real PostgreSQL, and the REST API reads them
// back (/usage/rules reads rows written straight into usage_minute).
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "common/usage.h"
#include "tests/controller/api_fixture.h"
#include "tests/controller/raw_agent.h"

namespace sluice {
namespace {

using nlohmann::json;
using testing::HttpResult;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The sum of the counter `name` with label `label`=`value` (-1: absent).
double CounterValue(prometheus::Registry* registry, const std::string& name,
                    const std::string& label, const std::string& value) {
  double sum = -1;
  for (const auto& family : registry->Collect()) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      for (const auto& pair : metric.label) {
        if (pair.name == label && pair.value == value) {
          sum = (sum < 0 ? 0 : sum) + metric.counter.value;
        }
      }
    }
  }
  return sum;
}

class UsageApiTest : public testing::ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    rule_id_ = Create(testing::SampleRule())["id"].get<int64_t>();
    agent_ = std::make_unique<testing::RawAgent>(context_, options_.agents);
    ASSERT_TRUE(agent_->Connect("web-1:4242").has_value());
  }
  void TearDown() override {
    agent_.reset();
    ApiTest::TearDown();
  }

  UsageReport Report(uint64_t seq, int64_t allowed, int64_t refused) {
    UsageReport report;
    report.agent_id = "web-1:4242";
    report.incarnation = 99;
    report.seq = seq;
    report.sent_ms = NowMs();
    report.version = "test-1";
    report.rules_version = 3;
    report.buckets = 12;
    report.leases = 4;
    report.counts.push_back(
        UsageCounts{rule_id_, MinuteStart(NowMs()), allowed, refused, 0});
    return report;
  }

  // Sends `report` and waits for its ack.
  bool SendAndAck(const UsageReport& report) {
    agent_->Send(report);
    return agent_
        ->Await<UsageAck>(
            [&](const UsageAck& ack) {
              return ack.seq == report.seq &&
                     ack.incarnation == report.incarnation;
            },
            std::chrono::milliseconds(5000))
        .has_value();
  }

  // Sums allowed and refused over the last hour of rule_id_.
  std::pair<int64_t, int64_t> Totals() {
    HttpResult got =
        admin_->Get("/api/v1/usage?rule=" + std::to_string(rule_id_));
    EXPECT_EQ(got.status, 200) << got.body;
    int64_t allowed = 0, refused = 0;
    for (const json& point : got.json["points"]) {
      allowed += point["allowed"].get<int64_t>();
      refused += point["refused"].get<int64_t>();
    }
    return {allowed, refused};
  }

  zmq::context_t context_;
  std::unique_ptr<testing::RawAgent> agent_;
  int64_t rule_id_ = 0;
};

TEST_F(UsageApiTest, ReportsAreCountedOnceAndReadBack) {
  ASSERT_TRUE(SendAndAck(Report(1, 10, 3)));
  ASSERT_TRUE(SendAndAck(Report(2, 5, 0)));
  // Sent again (its ack was lost): acknowledged, not counted twice.
  ASSERT_TRUE(SendAndAck(Report(2, 5, 0)));
  EXPECT_EQ(Totals(), std::make_pair(int64_t{15}, int64_t{3}));

  HttpResult all = admin_->Get("/api/v1/usage");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_TRUE(all.json["rule"].is_null());
  EXPECT_EQ(all.json["step_ms"], 60000);
  EXPECT_GE(all.json["points"].size(), 60u);

  prometheus::Registry* registry = controller_->metrics()->registry();
  EXPECT_EQ(CounterValue(registry, "sluice_rule_decisions_total", "rule",
                         std::to_string(rule_id_)),
            18);
  EXPECT_EQ(CounterValue(registry, "sluice_controller_usage_reports_total",
                         "outcome", "duplicate"),
            1);
}

TEST_F(UsageApiTest, UnknownRulesAndCorruptSummariesAreSkippedAndCounted) {
  UsageReport report = Report(1, 4, 0);
  report.counts.push_back(
      UsageCounts{rule_id_ + 1000, report.counts[0].minute_ms, 7, 7, 7});
  UsageSummary corrupt;
  corrupt.rule_id = rule_id_;
  corrupt.minute_ms = report.counts[0].minute_ms;
  corrupt.capacity = 1;
  corrupt.total = 5;
  corrupt.entries = {{"[\"a\"]", 3, 0, 0}, {"[\"b\"]", 2, 0, 0}};  // > capacity
  report.summaries.push_back(corrupt);
  ASSERT_TRUE(SendAndAck(report));
  EXPECT_EQ(Totals(), std::make_pair(int64_t{4}, int64_t{0}));
  prometheus::Registry* registry = controller_->metrics()->registry();
  EXPECT_EQ(
      CounterValue(registry, "sluice_controller_usage_reports_invalid_total",
                   "reason", "unknown_rule"),
      1);
  EXPECT_EQ(
      CounterValue(registry, "sluice_controller_usage_reports_invalid_total",
                   "reason", "corrupt_summary"),
      1);
}

TEST_F(UsageApiTest, TopListsTheHeaviestClientsWithTheirValues) {
  UsageReport report = Report(1, 0, 0);
  report.counts.clear();
  const int64_t minute = MinuteStart(NowMs());
  HeavyHitters by_refused(8);
  by_refused.Add(UsageClientKey({"42"}), 30, 5);
  by_refused.Add(UsageClientKey({"7"}), 10, 50);
  report.summaries.push_back(
      ToUsageSummary(rule_id_, minute, UsageRanking::kRefused, by_refused));
  HeavyHitters by_allowed(8);
  by_allowed.Add(UsageClientKey({"7"}), 50, 10);
  by_allowed.Add(UsageClientKey({"42"}), 5, 30);
  report.summaries.push_back(
      ToUsageSummary(rule_id_, minute, UsageRanking::kAllowed, by_allowed));
  ASSERT_TRUE(SendAndAck(report));

  HttpResult top = admin_->Get(
      "/api/v1/usage/top?rule=" + std::to_string(rule_id_) + "&limit=1");
  ASSERT_EQ(top.status, 200) << top.body;
  EXPECT_EQ(top.json["by"], "refused");
  ASSERT_EQ(top.json["clients"].size(), 1u);
  EXPECT_EQ(top.json["clients"][0]["values"], (json{{"client_id", "42"}}));
  EXPECT_EQ(top.json["clients"][0]["refused"], 30);
  EXPECT_EQ(top.json["clients"][0]["allowed"], 5);
  EXPECT_EQ(top.json["error_bound"], 0);

  top = admin_->Get("/api/v1/usage/top?by=allowed&rule=" +
                    std::to_string(rule_id_));
  ASSERT_EQ(top.status, 200) << top.body;
  ASSERT_EQ(top.json["clients"].size(), 2u);
  EXPECT_EQ(top.json["clients"][0]["values"], (json{{"client_id", "7"}}));
  EXPECT_EQ(top.json["clients"][0]["allowed"], 50);
}

TEST_F(UsageApiTest, AgentsAreListed) {
  ASSERT_TRUE(SendAndAck(Report(1, 1, 0)));
  json agent;
  for (int i = 0; i < 50 && agent.is_null(); ++i) {
    HttpResult got = admin_->Get("/api/v1/agents");
    ASSERT_EQ(got.status, 200) << got.body;
    for (const json& a : got.json["agents"]) {
      if (a["id"] == "web-1:4242" && a["version"] == "test-1") agent = a;
    }
    if (agent.is_null()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ASSERT_FALSE(agent.is_null());
  EXPECT_EQ(agent["connected"], true);
  EXPECT_EQ(agent["buckets"], 12);
  EXPECT_EQ(agent["leases"], 4);
  EXPECT_EQ(agent["rules_version"], 3);
  EXPECT_NEAR(agent["last_seen"].get<double>(), static_cast<double>(NowMs()),
              10'000);
}

TEST_F(UsageApiTest, RulesListsTheBusiestRulesWithTheirSeries) {
  const int64_t b = Create(testing::RuleNamed("b"))["id"].get<int64_t>();
  const int64_t c = Create(testing::RuleNamed("c"))["id"].get<int64_t>();
  const int64_t m0 = MinuteStart(NowMs()) - 5 * kMillisPerMinute;
  const auto row = [&](int64_t rule, int64_t t, int a, int r, int s) {
    return "(" + std::to_string(rule) + "," + std::to_string(t) + "," +
           std::to_string(a) + "," + std::to_string(r) + "," +
           std::to_string(s) + ")";
  };
  const int64_t m1 = m0 + kMillisPerMinute, m3 = m0 + 3 * kMillisPerMinute;
  // rule_id_ 17 decisions, b 103, c none, a deleted rule 1000, and a row
  // of rule_id_ just outside the window.
  Sql("INSERT INTO usage_minute (rule_id, t_ms, allowed, refused, "
      "shadow_refused) VALUES " +
      row(rule_id_, m0, 10, 2, 0) + "," + row(rule_id_, m1, 5, 0, 0) + "," +
      row(b, m0, 100, 0, 3) + "," + row(c, m0, 0, 0, 0) + "," +
      row(rule_id_ + 1000, m0, 1000, 0, 0) + "," +
      row(rule_id_, m3, 50, 50, 50));
  const std::string window =
      "from=" + std::to_string(m0) + "&to=" + std::to_string(m3);
  HttpResult got = admin_->Get("/api/v1/usage/rules?step=1m&" + window);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.json["from"], m0);
  EXPECT_EQ(got.json["to"], m3);
  EXPECT_EQ(got.json["step_ms"], kMillisPerMinute);
  ASSERT_EQ(got.json["rules"].size(), 2u) << got.body;
  const json& busiest = got.json["rules"][0];
  EXPECT_EQ(busiest["rule"], b);
  EXPECT_EQ(busiest["name"], "b");
  EXPECT_EQ(busiest["allowed"], 100);
  EXPECT_EQ(busiest["shadow_refused"], 3);
  EXPECT_EQ(busiest["series"]["shadow_refused"], (json{3, 0, 0}));
  const json& next = got.json["rules"][1];
  EXPECT_EQ(next["rule"], rule_id_);
  EXPECT_EQ(next["allowed"], 15);
  EXPECT_EQ(next["refused"], 2);
  EXPECT_EQ(next["series"]["allowed"], (json{10, 5, 0}));
  EXPECT_EQ(next["series"]["refused"], (json{2, 0, 0}));

  got = admin_->Get("/api/v1/usage/rules?limit=1&step=2m&" + window);
  ASSERT_EQ(got.status, 200) << got.body;
  ASSERT_EQ(got.json["rules"].size(), 1u) << got.body;
  EXPECT_EQ(got.json["rules"][0]["rule"], b);
  EXPECT_EQ(got.json["rules"][0]["series"]["allowed"], (json{100, 0}));

  // The default step keeps a day within 60 points; a viewer may read it.
  auto viewer = Client(NewToken("rules-watcher", "viewer"));
  const int64_t day_end = MinuteStart(NowMs());
  got = viewer->Get(
      "/api/v1/usage/rules?from=" + std::to_string(day_end - 86'400'000) +
      "&to=" + std::to_string(day_end));
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.json["step_ms"], 24 * kMillisPerMinute);
  ASSERT_EQ(got.json["rules"].size(), 2u) << got.body;
  for (const json& rule : got.json["rules"]) {
    EXPECT_EQ(rule["series"]["allowed"].size(), 60u);
  }
  EXPECT_EQ(Client("")->Get("/api/v1/usage/rules").status, 401);
}

TEST_F(UsageApiTest, BadQueriesNameTheFieldAndUnknownRulesAre404) {
  const std::map<std::string, std::string> cases = {
      {"/api/v1/usage?from=2&to=1", "from"},
      {"/api/v1/usage?step=0", "step"},
      {"/api/v1/usage?from=1000", "from"},  // beyond retention
      {"/api/v1/usage?to=garbage", "to"},
      {"/api/v1/usage?colour=red", "colour"},
      {"/api/v1/usage/top?rule=1&limit=1001", "limit"},
      {"/api/v1/usage/top", "rule"},
      {"/api/v1/usage/top?rule=1&by=size", "by"},
      {"/api/v1/usage/rules?rule=1", "rule"},
      {"/api/v1/usage/rules?limit=0", "limit"},
      {"/api/v1/usage/rules?limit=10001", "limit"},
      {"/api/v1/usage/rules?step=1m&from=" +
           std::to_string(NowMs() - 86'400'000),
       "step"},  // 1440 points
      {"/api/v1/usage/rules?from=1000", "from"},
  };
  for (const auto& [path, field] : cases) {
    HttpResult got = admin_->Get(path);
    EXPECT_EQ(got.status, 422) << path << " " << got.body;
    EXPECT_EQ(got.json["error"]["field"], field) << path << " " << got.body;
  }
  for (const char* path :
       {"/api/v1/usage?rule=999999", "/api/v1/usage/top?rule=999999"}) {
    HttpResult got = admin_->Get(path);
    EXPECT_EQ(got.status, 404) << path << " " << got.body;
  }
  // A viewer may read usage; no token may not.
  auto viewer = Client(NewToken("watcher", "viewer"));
  EXPECT_EQ(viewer->Get("/api/v1/usage").status, 200);
  EXPECT_EQ(viewer->Get("/api/v1/agents").status, 200);
  EXPECT_EQ(Client("")->Get("/api/v1/usage").status, 401);
}

}  // namespace
}  // namespace sluice
