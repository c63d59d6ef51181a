// The whole agent with several controllers: two fake controllers (ROUTER
// sockets driven by the test, tests/agent/lease/fake_controller.h) share
// the buckets by a controller set; one falls silent, and only its buckets
// follow their failure_mode while the other's keep asking it for leases.
// Driven by a real Redis client (hiredis).
//
// Time: the agent reads a SimulatedClock that only the test moves; wall
// time only bounds the waits.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "agent/agent.h"
#include "common/bucket_key.h"
#include "common/membership.h"
#include "tests/agent/hiredis_client.h"
#include "tests/agent/lease/fake_controller.h"
#include "tests/common/test_timing.h"
#include "tests/support/free_port.h"
#include "tests/support/simulated_clock.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;
using testing::Command;
using testing::FakeController;
using testing::Integers;
using testing::Redis;

constexpr int64_t kReachableTimeoutMs = 500;

template <typename Predicate>
bool Eventually(Predicate predicate,
                milliseconds timeout = milliseconds(10000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
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

std::string Info(redisContext* c) {
  testing::Reply r = Command(c, {"RL.INFO"});
  if (r == nullptr || r->type != REDIS_REPLY_STRING) return "";
  return std::string(r->str, r->len);
}

Rule ClosedRule() {
  Rule rule;
  rule.id = 1;
  rule.version = 1;
  rule.name = "per-client";
  rule.domain = "api";
  rule.match = {{"client_id", "*"}};
  rule.limit = 10;
  rule.period_ms = 1000;
  rule.burst = 10;
  rule.failure_mode = FailureMode::kClosed;
  return rule;
}

class AgentClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-agent-cluster-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    for (int i = 0; i < 2; ++i) {
      endpoints_.push_back("tcp://127.0.0.1:" +
                           std::to_string(testing::PickFreePort()));
      fakes_.push_back(
          std::make_unique<FakeController>(context_, endpoints_.back()));
      set_.set.members.push_back(ControllerMember{
          std::string(1, static_cast<char>('a' + i)), endpoints_.back()});
    }
    set_.set.version = 1;
    // A client owned by each controller.
    const Ownership ownership(set_.set);
    for (int i = 0; owned_[0].empty() || owned_[1].empty(); ++i) {
      const std::string client = "client-" + std::to_string(i);
      const int owner = ownership.Owner(StableHash(MakeBucketKey(1, {client})));
      if (owned_[owner].empty()) owned_[owner] = client;
    }
  }

  void TearDown() override {
    if (agent_) {
      agent_->Stop();
      thread_.join();
      agent_.reset();
    }
    std::system(("rm -rf " + dir_).c_str());
  }

  void StartAgent() {
    AgentOptions options;
    options.controller = endpoints_[0] + "," + endpoints_[1];
    options.agent_id = "agent-cluster-test";
    options.server.socket_path = dir_ + "/agent.sock";
    options.metrics = "127.0.0.1:0";
    options.handle_signals = false;
    options.heartbeat_ms = 50;
    options.reachable_timeout_ms = kReachableTimeoutMs;
    // The subject is where lease requests go: every bucket used asks.
    options.timing = testing_timing::LeaseEveryBucket();
    // The fake controllers acknowledge no usage report: stop at once.
    options.stop_drain_ms = 0;
    agent_ = std::make_unique<Agent>(options, &clock_);
    Status started = agent_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    thread_ = std::thread([this] { agent_->Run(); });
  }

  // 1 when admitted, 0 when refused.
  long long Check(redisContext* c, const std::string& client) {
    std::vector<long long> v = Integers(
        Command(c, {"RL.CHECK", "api", "1", "client_id", client}).get());
    EXPECT_EQ(v.size(), 5u);
    return v.empty() ? -1 : v[0];
  }

  zmq::context_t context_;
  std::vector<std::string> endpoints_;
  std::vector<std::unique_ptr<FakeController>> fakes_;
  Controllers set_;
  std::string owned_[2];
  testing::SimulatedClock clock_;
  std::string dir_;
  std::unique_ptr<Agent> agent_;
  std::thread thread_;
};

TEST_F(AgentClusterTest, AnOwnerAwayTakesOnlyItsBucketsToTheFailureMode) {
  StartAgent();
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(fakes_[i]->Await<Hello>().has_value());
    RulesSnapshot snapshot;
    snapshot.version = 1;
    snapshot.agents = 1;
    snapshot.rules = {ClosedRule()};
    fakes_[i]->Send(snapshot);
    set_.self_id = set_.set.members[static_cast<size_t>(i)].id;
    fakes_[i]->Send(set_);
  }
  Redis c(redisConnectUnix((dir_ + "/agent.sock").c_str()));
  ASSERT_TRUE(c != nullptr && c->err == 0);
  ASSERT_TRUE(Eventually([&] {
    return Info(c.get()).find("rules_version:1") != std::string::npos;
  }));
  // Both heard from, the set adopted.
  ASSERT_TRUE(Eventually([&] {
    const std::string metrics = HttpGetMetrics(agent_->metrics_port());
    return metrics.find("sluice_agent_controllers_reachable 2") !=
               std::string::npos &&
           metrics.find("sluice_agent_controller_set_version 1") !=
               std::string::npos;
  })) << HttpGetMetrics(agent_->metrics_port());

  // b falls silent: past the timeout nobody has been heard; then a answers.
  clock_.AdvanceMillis(kReachableTimeoutMs + 1);
  ASSERT_TRUE(Eventually([&] {
    return Info(c.get()).find("controller_reachable:0") != std::string::npos;
  }));
  Heartbeat beat;
  beat.rules_version = 1;
  beat.agents = 1;
  beat.controllers_version = 1;
  fakes_[0]->Send(beat);
  ASSERT_TRUE(Eventually([&] {
    return Info(c.get()).find("controller_reachable:1") != std::string::npos &&
           HttpGetMetrics(agent_->metrics_port())
                   .find("sluice_agent_controllers_reachable 1") !=
               std::string::npos;
  }));

  // a's client runs on its safe share and asks a for a lease; b's client
  // follows its rule's failure_mode (closed), and b hears nothing.
  EXPECT_TRUE(Eventually([&] { return Check(c.get(), owned_[0]) == 1; }));
  EXPECT_EQ(Check(c.get(), owned_[1]), 0);
  std::optional<LeaseRequest> request = fakes_[0]->Await<LeaseRequest>();
  ASSERT_TRUE(request.has_value());
  for (const LeaseWant& want : request->items) {
    EXPECT_EQ(want.values, std::vector<std::string>{owned_[0]});
  }
  fakes_[1]->Drain(milliseconds(300));
  EXPECT_TRUE(fakes_[1]->requests().empty());
}

}  // namespace
}  // namespace sluice
