// The whole agent (server, checker, lease client, metrics) against the real
// LeaseServer over real ZeroMQ, driven by a real Redis client (hiredis).
//
// Time: the agent and the lease server read a SimulatedClock that stands
// still unless a test moves it, so the controller cannot turn unreachable
// (or a lease expire) in the middle of a test because the machine was slow
// to run the agent's background thread; waits for the threads to react are
// bounded by wall time (Eventually).
#include "agent/agent.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "controller/catalog/rule_catalog.h"
#include "controller/lease/lease_server.h"
#include "controller/lease/usage_sink.h"
#include "tests/agent/hiredis_client.h"
#include "tests/common/test_timing.h"
#include "tests/support/free_port.h"
#include "tests/support/simulated_clock.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

using testing::Command;
using testing::GetReply;
using testing::Integers;
using testing::Redis;
using testing::Reply;

std::string Info(redisContext* c) {
  Reply r = Command(c, {"RL.INFO"});
  if (r == nullptr || r->type != REDIS_REPLY_STRING) return "";
  return std::string(r->str, r->len);
}

// True once the agent holds rules version `version` and reaches the
// controller.
bool Synced(redisContext* c, int64_t version) {
  const std::string info = Info(c);
  return info.find("rules_version:" + std::to_string(version)) !=
             std::string::npos &&
         info.find("controller_reachable:1") != std::string::npos;
}

template <typename Predicate>
bool Eventually(Predicate predicate,
                milliseconds timeout = milliseconds(3000)) {
  const auto deadline = SteadyClock::now() + timeout;
  while (SteadyClock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return predicate();
}

// GET /metrics from 127.0.0.1:port.
std::string HttpGetMetrics(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request =
        "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) {
        out.append(buf, static_cast<size_t>(n));
      }
    }
  }
  ::close(fd);
  return out;
}

Rule ClientRule(int64_t version, int64_t limit, int64_t burst) {
  Rule rule;
  rule.id = 1;
  rule.version = version;
  rule.name = "per-client";
  rule.domain = "api";
  rule.match = {{"client_id", "*"}};
  rule.limit = limit;
  rule.period_ms = 1000;
  rule.burst = burst;
  return rule;
}

Rule FailureModeRule(int64_t id, const std::string& domain,
                     FailureMode failure_mode) {
  Rule rule = ClientRule(1, 10, 10);
  rule.id = id;
  rule.name = domain;
  rule.domain = domain;
  rule.failure_mode = failure_mode;
  return rule;
}

// The controller's usage side, standing in for the usage ingest: keeps
// every report and acknowledges it at once.
class RecordingUsageSink : public UsageSink {
 public:
  bool Offer(const std::string& peer, UsageReport report) override {
    std::lock_guard<std::mutex> lock(mu_);
    acks_.push_back({peer, UsageAck{report.incarnation, report.seq}});
    reports_.push_back(std::move(report));
    return true;
  }
  void TakeAcks(std::vector<std::pair<std::string, UsageAck>>* out) override {
    std::lock_guard<std::mutex> lock(mu_);
    out->insert(out->end(), acks_.begin(), acks_.end());
    acks_.clear();
  }
  // The sums over every report of the rule's counts.
  RuleDecisionCounts Counts(int64_t rule_id) {
    std::lock_guard<std::mutex> lock(mu_);
    RuleDecisionCounts sum;
    for (const UsageReport& report : reports_) {
      for (const UsageCounts& c : report.counts) {
        if (c.rule_id != rule_id) continue;
        sum.allowed += c.allowed;
        sum.refused += c.refused;
      }
    }
    return sum;
  }

 private:
  std::mutex mu_;
  std::vector<UsageReport> reports_;
  std::vector<std::pair<std::string, UsageAck>> acks_;
};

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-agent-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    socket_path_ = dir_ + "/agent.sock";
  }

  void TearDown() override {
    StopAgent();
    if (lease_server_) lease_server_->Stop();
    std::system(("rm -rf " + dir_).c_str());
  }

  void StartController(UsageSink* usage_sink = nullptr) {
    LeaseServerOptions options;
    options.endpoint = endpoint_;
    options.usage_sink = usage_sink;  // null: usage reports are refused
    lease_server_ =
        std::make_unique<LeaseServer>(options, &catalog_, &clock_, nullptr);
    Status started = lease_server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
  }

  void StartAgent(const std::string& metrics = "",
                  const std::function<void(AgentOptions*)>& tweak = nullptr) {
    AgentOptions options;
    options.controller = endpoint_;
    options.agent_id = "agent-test";
    options.server.socket_path = socket_path_;
    options.metrics = metrics;
    options.handle_signals = false;
    options.heartbeat_ms = 50;
    options.reachable_timeout_ms = 500;
    // A controller without a usage sink never acknowledges a usage
    // report: stopping does not wait for one unless a test asks.
    options.stop_drain_ms = 0;
    if (tweak) tweak(&options);
    agent_ = std::make_unique<Agent>(options, &clock_);
    Status started = agent_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    thread_ = std::thread([this] { agent_->Run(); });
  }

  void StopAgent() {
    if (!agent_) return;
    agent_->Stop();
    thread_.join();
    agent_.reset();
  }

  Redis Connect() {
    Redis c(redisConnectUnix(socket_path_.c_str()));
    EXPECT_TRUE(c != nullptr && c->err == 0);
    return c;
  }

  const std::string endpoint_ =
      "tcp://127.0.0.1:" + std::to_string(testing::PickFreePort());
  testing::SimulatedClock clock_;
  RuleCatalog catalog_;
  RecordingUsageSink usage_sink_;  // outlives the lease server using it
  std::unique_ptr<LeaseServer> lease_server_;
  std::string dir_;
  std::string socket_path_;
  std::unique_ptr<Agent> agent_;
  std::thread thread_;
};

TEST_F(AgentTest, AnswersWithoutAController) {
  StartAgent();  // nobody listens on the endpoint
  Redis c = Connect();
  EXPECT_EQ(std::string(Command(c.get(), {"PING"})->str), "PONG");
  EXPECT_EQ(
      Integers(
          Command(c.get(), {"RL.CHECK", "api", "1", "client_id", "1"}).get()),
      (std::vector<long long>{1, -1, -1, 0, 0}));
  const std::string info = Info(c.get());
  EXPECT_NE(info.find("controller_reachable:0"), std::string::npos) << info;
  EXPECT_NE(info.find("agent_id:agent-test"), std::string::npos) << info;
  EXPECT_NE(info.find("controller:" + endpoint_), std::string::npos) << info;
}

TEST_F(AgentTest, StopRemovesTheSocketFile) {
  StartAgent();
  struct stat st;
  ASSERT_EQ(::lstat(socket_path_.c_str(), &st), 0);
  StopAgent();
  EXPECT_NE(::lstat(socket_path_.c_str(), &st), 0);
}

TEST_F(AgentTest, EnforcesTheControllersRulesAndFollowsChanges) {
  catalog_.Replace(3, {ClientRule(1, 10, 5)});
  StartController();
  StartAgent("127.0.0.1:0");
  Redis c = Connect();
  ASSERT_TRUE(Eventually([&] { return Synced(c.get(), 3); })) << Info(c.get());

  // One pipelined batch: decided at one instant, before any lease answer.
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(redisAppendCommand(c.get(), "RL.CHECK api 1 client_id a"),
              REDIS_OK);
  }
  int allowed = 0;
  for (int i = 0; i < 20; ++i) {
    void* raw = nullptr;
    ASSERT_EQ(redisGetReply(c.get(), &raw), REDIS_OK);
    Reply r(static_cast<redisReply*>(raw));
    std::vector<long long> v = Integers(r.get());
    ASSERT_EQ(v.size(), 5u);
    EXPECT_EQ(v[1], 10);
    allowed += static_cast<int>(v[0]);
  }
  EXPECT_EQ(allowed, 5);  // the safe share of the only agent: the burst

  // The agent asked for a lease in the background, and got an answer.
  ASSERT_TRUE(Eventually([&] {
    const std::string metrics = HttpGetMetrics(agent_->metrics_port());
    return metrics.find("sluice_agent_lease_requests_total") !=
               std::string::npos &&
           metrics.find("sluice_agent_lease_requests_total 0") ==
               std::string::npos &&
           metrics.find(
               "sluice_agent_decisions_total{result=\"allowed\","
               "rule=\"per-client\"} 5") != std::string::npos &&
           metrics.find(
               "sluice_agent_decisions_total{result=\"refused\","
               "rule=\"per-client\"} 15") != std::string::npos &&
           metrics.find("sluice_agent_controller_reachable 1") !=
               std::string::npos;
  })) << HttpGetMetrics(agent_->metrics_port());
  ASSERT_TRUE(Eventually([&] {
    return Info(c.get()).find("leases:1\r\n") != std::string::npos;
  })) << Info(c.get());

  // A rule change reaches the agent's decisions within a second.
  const auto changed = SteadyClock::now();
  catalog_.Upsert(4, ClientRule(2, 1000, 1000));
  ASSERT_TRUE(Eventually(
      [&] {
        std::vector<long long> v = Integers(
            Command(c.get(), {"RL.CHECK", "api", "0", "client_id", "b"}).get());
        return v.size() == 5 && v[1] == 1000;
      },
      milliseconds(1000)))
      << Info(c.get());
  EXPECT_LT(SteadyClock::now() - changed, milliseconds(1000));
}

// Lease requests wait for the flush timer, unless flush_at_pending buckets
// already need one: then they go at once.
TEST_F(AgentTest, AFullBatchOfLeaseRequestsGoesWithoutWaiting) {
  catalog_.Replace(3, {ClientRule(1, 10, 5)});
  StartController();
  StartAgent("127.0.0.1:0", [](AgentOptions* options) {
    options->flush_delay_ms = 60 * 1000;     // never, in this test
    options->sweep_interval_ms = 60 * 1000;  // no sweep either
    options->flush_at_pending = 3;
    options->timing = testing_timing::LeaseEveryBucket();
  });
  Redis c = Connect();
  ASSERT_TRUE(Eventually([&] { return Synced(c.get(), 3); })) << Info(c.get());
  auto requested = [&] {
    const std::string metrics = HttpGetMetrics(agent_->metrics_port());
    const std::string name = "\nsluice_agent_lease_requests_total ";
    const size_t at = metrics.find(name);
    return at == std::string::npos
               ? -1
               : std::atoll(metrics.c_str() + at + name.size());
  };
  for (const char* client : {"a", "b"}) {
    Command(c.get(), {"RL.CHECK", "api", "1", "client_id", client});
  }
  // Two pending: they wait for the (60 s) timer, so nothing was sent.
  EXPECT_EQ(requested(), 0);
  EXPECT_NE(Info(c.get()).find("pending_lease_requests:2\r\n"),
            std::string::npos)
      << Info(c.get());
  Command(c.get(), {"RL.CHECK", "api", "1", "client_id", "c"});
  EXPECT_TRUE(Eventually([&] { return requested() == 3; })) << requested();
  EXPECT_TRUE(Eventually([&] {
    return Info(c.get()).find("leases:3\r\n") != std::string::npos;
  })) << Info(c.get());
}

// The controller goes away: the agent keeps answering from memory, spends
// its leases until they expire, then follows each rule's failure_mode, all
// on the test's clock. (tests/integration/failover_test.cc does the same
// with real processes killed by SIGKILL, on wall time.)
TEST_F(AgentTest, WithoutTheControllerLeasesRunOutThenFailureModesApply) {
  catalog_.Replace(3, {FailureModeRule(1, "open", FailureMode::kOpen),
                       FailureModeRule(2, "closed", FailureMode::kClosed),
                       FailureModeRule(3, "local", FailureMode::kLocal)});
  StartController();
  StartAgent("", [](AgentOptions* options) {
    options->timing = testing_timing::LeaseEveryBucket();  // leases to run out
  });
  Redis c = Connect();
  ASSERT_TRUE(Eventually([&] { return Synced(c.get(), 3); })) << Info(c.get());
  auto allowed = [&](const std::string& domain, int checks) {
    int n = 0;
    for (int i = 0; i < checks; ++i) {
      std::vector<long long> v = Integers(
          Command(c.get(), {"RL.CHECK", domain, "1", "client_id", "a"}).get());
      EXPECT_EQ(v.size(), 5u);
      if (v.size() == 5 && v[0] == 1) ++n;
      if (v.size() == 5 && v[0] == 0 && domain == "closed") {
        EXPECT_EQ(v[4], 1000);  // retry when the controller may be back
      }
    }
    return n;
  };
  for (const char* domain : {"open", "closed", "local"}) {
    EXPECT_EQ(allowed(domain, 1), 1) << domain;
  }
  ASSERT_TRUE(Eventually([&] {
    return Info(c.get()).find("leases:3\r\n") != std::string::npos;
  })) << Info(c.get());

  lease_server_->Stop();
  // Leases granted for 2 s (LeaseServerOptions), the controller called
  // unreachable after 500 ms of silence: until the clock says so, nothing
  // changes, and the leases (a second of demand each, at least the cost)
  // keep answering.
  EXPECT_EQ(allowed("closed", 1), 1);
  clock_.AdvanceMillis(LeaseServerOptions{}.lease_ttl_ms + 1);
  ASSERT_TRUE(Eventually([&] {
    return Info(c.get()).find("controller_reachable:0") != std::string::npos;
  })) << Info(c.get());
  EXPECT_EQ(allowed("open", 30), 30);   // admits everything
  EXPECT_EQ(allowed("closed", 30), 0);  // refuses everything
  // The safe share (burst / agents, one agent here), full again after 2 s
  // of refill, then empty: the clock stands still.
  EXPECT_EQ(allowed("local", 30), 10);
}

// Stopping, the agent sends the usage counted since its last report and
// waits for the controller to have it: a restart loses no decision.
TEST_F(AgentTest, StopSendsTheLastUsageAndWaitsForItsAcknowledgement) {
  catalog_.Replace(3, {ClientRule(1, 10, 5)});
  StartController(&usage_sink_);
  StartAgent("", [](AgentOptions* options) {
    options->usage_report_ms = 3'600'000;  // no report but the last
    options->stop_drain_ms = 60'000;
  });
  Redis c = Connect();
  ASSERT_TRUE(Eventually([&] { return Synced(c.get(), 3); })) << Info(c.get());
  int allowed = 0;
  for (int i = 0; i < 20; ++i) {
    std::vector<long long> v = Integers(
        Command(c.get(), {"RL.CHECK", "api", "1", "client_id", "a"}).get());
    ASSERT_EQ(v.size(), 5u);
    allowed += static_cast<int>(v[0]);
  }
  EXPECT_GE(allowed, 5);                        // the burst, at least
  EXPECT_EQ(usage_sink_.Counts(1).allowed, 0);  // nothing reported yet
  const auto stopping = SteadyClock::now();
  StopAgent();
  // The acknowledgement ended the wait, not its bound.
  EXPECT_LT(SteadyClock::now() - stopping, std::chrono::seconds(30));
  const RuleDecisionCounts counts = usage_sink_.Counts(1);
  EXPECT_EQ(counts.allowed, allowed);
  EXPECT_EQ(counts.refused, 20 - allowed);
}

// With no controller reachable to take it, the last report is not waited
// for.
TEST_F(AgentTest, StopWithNoControllerReachableDoesNotWait) {
  catalog_.Replace(3, {ClientRule(1, 10, 5)});
  StartController(&usage_sink_);
  StartAgent("", [](AgentOptions* options) {
    options->usage_report_ms = 3'600'000;
    options->stop_drain_ms = 60'000;
  });
  Redis c = Connect();
  ASSERT_TRUE(Eventually([&] { return Synced(c.get(), 3); })) << Info(c.get());
  Command(c.get(), {"RL.CHECK", "api", "1", "client_id", "a"});  // counted
  lease_server_->Stop();
  clock_.AdvanceMillis(600);  // past reachable_timeout_ms: away
  ASSERT_TRUE(Eventually([&] {
    return Info(c.get()).find("controller_reachable:0") != std::string::npos;
  })) << Info(c.get());
  const auto stopping = SteadyClock::now();
  StopAgent();
  EXPECT_LT(SteadyClock::now() - stopping, std::chrono::seconds(30));
  EXPECT_EQ(usage_sink_.Counts(1).allowed, 0);  // nobody could take it
}

// A controller that never acknowledges (this one refuses usage reports)
// is waited for stop_drain_ms, no longer.
TEST_F(AgentTest, StopWaitsForAnAcknowledgementAtMostTheDrainTime) {
  catalog_.Replace(3, {ClientRule(1, 10, 5)});
  StartController();
  StartAgent("", [](AgentOptions* options) {
    options->usage_report_ms = 3'600'000;
    options->stop_drain_ms = 300;
  });
  Redis c = Connect();
  ASSERT_TRUE(Eventually([&] { return Synced(c.get(), 3); })) << Info(c.get());
  Command(c.get(), {"RL.CHECK", "api", "1", "client_id", "a"});
  const auto stopping = SteadyClock::now();
  StopAgent();
  const auto took = SteadyClock::now() - stopping;
  EXPECT_GE(took, milliseconds(300));
  EXPECT_LT(took, std::chrono::seconds(30));
}

}  // namespace
}  // namespace sluice
