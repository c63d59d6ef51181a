// Usage reports across a PostgreSQL outage: a controller in-process on a
// PostgreSQL of the test's own, which the test stops and starts. Reports
// sent while it is away are not acknowledged (the agent would keep them);
// once it is back every one is stored exactly once, also one sent twice.
//
// The outage lasts a few seconds here; a 30 s one takes the same path
// (the report at the head of the queue is retried every db_retry_ms, the
// others wait behind it, nothing is acknowledged meanwhile).
#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "common/usage.h"
#include "controller/controller.h"
#include "tests/controller/api_fixture.h"
#include "tests/controller/http_test_client.h"
#include "tests/controller/raw_agent.h"
#include "tests/controller/scratch_postgres.h"
#include "tests/support/free_port.h"

namespace sluice {
namespace {

using testing::HttpResult;
using testing::HttpTestClient;

constexpr char kToken[] = "usage-outage-admin-token";

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

UsageReport Report(int64_t rule_id, uint64_t seq, int64_t allowed,
                   int64_t refused) {
  UsageReport report;
  report.agent_id = "outage-agent";
  report.incarnation = 11;
  report.seq = seq;
  report.sent_ms = NowMs();
  report.version = "test";
  report.counts.push_back(
      UsageCounts{rule_id, MinuteStart(NowMs()), allowed, refused, 0});
  return report;
}

TEST(UsageOutageTest, ReportsSentWhilePostgresIsAwayAreStoredOnceWhenBack) {
  testing::ScratchPostgres postgres;
  postgres.Start();
  ControllerOptions options;
  options.db = postgres.conninfo();
  options.http = "127.0.0.1:" + std::to_string(testing::PickFreePort());
  options.agents = "tcp://127.0.0.1:" + std::to_string(testing::PickFreePort());
  options.admin_token = kToken;
  options.db_retry_ms = 200;
  options.catalog_sync_ms = 200;
  std::ostringstream token_out;
  options.token_out = &token_out;
  Controller controller(options);
  ASSERT_TRUE(controller.Start().ok());
  ASSERT_TRUE(controller.WaitUntilReady(15000).ok());
  HttpTestClient admin("http://" + options.http);
  admin.set_token(kToken);
  HttpResult rule = admin.Post("/api/v1/rules", testing::SampleRule().dump());
  ASSERT_EQ(rule.status, 201) << rule.body;
  const int64_t rule_id = rule.json["id"];

  zmq::context_t context;
  testing::RawAgent agent(context, options.agents);
  ASSERT_TRUE(agent.Connect("outage-agent").has_value());
  agent.Send(Report(rule_id, 1, 100, 1));
  ASSERT_TRUE(
      agent.Await<UsageAck>([](const UsageAck& ack) { return ack.seq == 1; },
                            std::chrono::milliseconds(5000)));

  postgres.Stop();
  for (uint64_t seq = 2; seq <= 4; ++seq) {
    agent.Send(Report(rule_id, seq, 10, 2));
  }
  agent.Send(Report(rule_id, 3, 10, 2));  // sent twice (a resend)
  // No acknowledgement while PostgreSQL is away.
  EXPECT_FALSE(agent.Await<UsageAck>(nullptr, std::chrono::milliseconds(3000))
                   .has_value());
  postgres.Start();
  std::set<uint64_t> acked;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (acked.size() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::optional<UsageAck> ack =
        agent.Await<UsageAck>(nullptr, std::chrono::milliseconds(1000));
    if (ack) acked.insert(ack->seq);
  }
  EXPECT_EQ(acked, (std::set<uint64_t>{2, 3, 4}));

  HttpResult usage = admin.Get("/api/v1/usage?rule=" + std::to_string(rule_id));
  ASSERT_EQ(usage.status, 200) << usage.body;
  int64_t allowed = 0, refused = 0;
  for (const auto& point : usage.json["points"]) {
    allowed += point["allowed"].get<int64_t>();
    refused += point["refused"].get<int64_t>();
  }
  EXPECT_EQ(allowed, 130);
  EXPECT_EQ(refused, 7);
  controller.Stop();
}

}  // namespace
}  // namespace sluice
