// LeaseClient over real ZeroMQ sockets: against the real LeaseServer, and
// against a hand-driven ROUTER for the cases a healthy server never causes.
//
// Time: the client (and the server) read a SimulatedClock that only the
// test moves. Heartbeats go out, and the controller becomes unreachable,
// when the test says that much time has passed, never because the machine
// was slow to schedule a thread; wall time only bounds how long a test
// waits for the threads to react (Eventually, AdvanceUntil).
#include "agent/lease/lease_client.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "common/wire.h"
#include "controller/catalog/rule_catalog.h"
#include "controller/lease/lease_server.h"
#include "platform/system_clock.h"
#include "tests/agent/lease/fake_controller.h"
#include "tests/support/free_port.h"
#include "tests/support/simulated_clock.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// How long a test waits for the client's and the server's threads.
constexpr milliseconds kWait{10000};
// The client's timing, in the test clock's milliseconds.
constexpr int64_t kHeartbeatMs = 50;
constexpr int64_t kReachableTimeoutMs = 300;

Rule MakeRule(int64_t id, int64_t version, int64_t limit, int64_t burst) {
  Rule rule;
  rule.id = id;
  rule.version = version;
  rule.name = "rule-" + std::to_string(id);
  rule.domain = "api";
  rule.match = {{"client_id", "*"}};
  rule.limit = limit;
  rule.period_ms = 1000;
  rule.burst = burst;
  return rule;
}

LeaseWant Want(int64_t rule_id, std::string value, int64_t want) {
  LeaseWant item;
  item.rule_id = rule_id;
  item.values = {std::move(value)};
  item.want = want;
  return item;
}

template <typename Predicate>
bool Eventually(Predicate predicate, milliseconds timeout = kWait) {
  const auto deadline = SteadyClock::now() + timeout;
  while (SteadyClock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return predicate();
}

// What the client's callbacks reported, readable from the test thread.
class Observer {
 public:
  LeaseClientCallbacks Callbacks() {
    LeaseClientCallbacks callbacks;
    callbacks.on_rules = [this](std::shared_ptr<const RuleIndex> index) {
      std::lock_guard<std::mutex> lock(mu_);
      rules_ = std::move(index);
    };
    callbacks.on_grant = [this](const LeaseGrant& grant, int64_t sent_at) {
      std::lock_guard<std::mutex> lock(mu_);
      grants_.emplace_back(grant, sent_at);
    };
    callbacks.on_controller = [this](bool reachable, int64_t agents) {
      std::lock_guard<std::mutex> lock(mu_);
      controller_.emplace_back(reachable, agents);
    };
    return callbacks;
  }

  std::shared_ptr<const RuleIndex> rules() {
    std::lock_guard<std::mutex> lock(mu_);
    return rules_;
  }
  int64_t rules_version() {
    auto index = rules();
    return index ? index->version() : -1;
  }
  std::vector<std::pair<LeaseGrant, int64_t>> grants() {
    std::lock_guard<std::mutex> lock(mu_);
    return grants_;
  }
  std::vector<std::pair<bool, int64_t>> controller() {
    std::lock_guard<std::mutex> lock(mu_);
    return controller_;
  }
  bool SawController(bool reachable, int64_t agents) {
    for (const auto& seen : controller()) {
      if (seen == std::make_pair(reachable, agents)) return true;
    }
    return false;
  }

 private:
  std::mutex mu_;
  std::shared_ptr<const RuleIndex> rules_;
  std::vector<std::pair<LeaseGrant, int64_t>> grants_;
  std::vector<std::pair<bool, int64_t>> controller_;
};

class LeaseClientTest : public ::testing::Test {
 protected:
  LeaseClientTest() {
    catalog_.Replace(3, {MakeRule(1, 1, 10, 20), MakeRule(2, 1, 5, 5)});
  }

  std::unique_ptr<LeaseServer> NewServer(RuleCatalog* catalog) {
    LeaseServerOptions options;
    options.endpoint = endpoint_;
    options.lease_ttl_ms = 1234;
    auto server =
        std::make_unique<LeaseServer>(options, catalog, &clock_, nullptr);
    Status started = server->Start();
    EXPECT_TRUE(started.ok()) << started.ToString();
    return server;
  }

  void StartClient() {
    LeaseClientOptions options;
    options.endpoint = endpoint_;
    options.agent_id = "test-agent";
    options.heartbeat_ms = kHeartbeatMs;
    options.reachable_timeout_ms = kReachableTimeoutMs;
    client_ =
        std::make_unique<LeaseClient>(options, observer_.Callbacks(), &clock_);
    Status started = client_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
  }

  const std::string endpoint_ =
      "tcp://127.0.0.1:" + std::to_string(testing::PickFreePort());
  testing::SimulatedClock clock_;
  RuleCatalog catalog_;
  RuleCatalog other_catalog_;  // a restarted controller's
  Observer observer_;
  std::unique_ptr<LeaseServer> server_;
  std::unique_ptr<LeaseClient> client_;  // stopped before the server
};

TEST_F(LeaseClientTest, GetsTheRulesAndReachesTheController) {
  server_ = NewServer(&catalog_);
  StartClient();
  ASSERT_TRUE(Eventually([&] { return observer_.rules_version() == 3; }));
  auto rules = observer_.rules();
  EXPECT_EQ(rules->size(), 2u);
  ASSERT_NE(rules->Find(1), nullptr);
  EXPECT_EQ(*rules->Find(1), MakeRule(1, 1, 10, 20));
  EXPECT_TRUE(client_->reachable());
  EXPECT_EQ(client_->rules_version(), 3);
  EXPECT_EQ(client_->agents(), 1);
  EXPECT_TRUE(observer_.SawController(true, 1));
  EXPECT_TRUE(Eventually([&] { return server_->connected_agents() == 1; }));
}

TEST_F(LeaseClientTest, SeesRuleChangesWithinOneSecond) {
  server_ = NewServer(&catalog_);
  StartClient();
  ASSERT_TRUE(Eventually([&] { return observer_.rules_version() == 3; }));

  catalog_.Upsert(4, MakeRule(1, 2, 50, 100));
  EXPECT_TRUE(Eventually([&] { return observer_.rules_version() == 4; },
                         milliseconds(1000)));
  ASSERT_NE(observer_.rules()->Find(1), nullptr);
  EXPECT_EQ(observer_.rules()->Find(1)->limit, 50);

  catalog_.Remove(5, 2);
  EXPECT_TRUE(Eventually([&] { return observer_.rules_version() == 5; },
                         milliseconds(1000)));
  EXPECT_EQ(observer_.rules()->Find(2), nullptr);
  EXPECT_EQ(observer_.rules()->size(), 1u);
}

TEST_F(LeaseClientTest, PassesGrantsWithTheTimeTheRequestWasSent) {
  server_ = NewServer(&catalog_);
  StartClient();
  ASSERT_TRUE(Eventually([&] { return client_->reachable(); }));

  clock_.AdvanceMillis(7);
  const int64_t sent = clock_.NowNanos();  // the clock stands still now
  client_->Submit({Want(1, "a", 15)});
  client_->Submit({Want(1, "a", 15), Want(2, "b", 1)});
  ASSERT_TRUE(Eventually([&] { return observer_.grants().size() == 2; }));

  auto grants = observer_.grants();
  EXPECT_NE(grants[0].first.seq, grants[1].first.seq);
  for (const auto& [grant, sent_at] : grants) EXPECT_EQ(sent_at, sent);
  // Requests are sent in order; the second gets what the burst has left.
  ASSERT_EQ(grants[0].first.items.size(), 1u);
  EXPECT_EQ(grants[0].first.items[0].tokens, 15);
  EXPECT_EQ(grants[0].first.items[0].ttl_ms, 1234);
  ASSERT_EQ(grants[1].first.items.size(), 2u);
  EXPECT_EQ(grants[1].first.items[0].tokens, 5);
  EXPECT_EQ(grants[1].first.items[1].tokens, 1);
  EXPECT_LE(grants[0].second, grants[1].second);
}

TEST_F(LeaseClientTest, FollowsTheControllerThroughARestart) {
  server_ = NewServer(&catalog_);
  StartClient();
  ASSERT_TRUE(Eventually(
      [&] { return client_->reachable() && observer_.rules_version() == 3; }));

  server_->Stop();
  // Reachable until nothing has been heard for kReachableTimeoutMs.
  clock_.AdvanceMillis(kReachableTimeoutMs);
  std::this_thread::sleep_for(milliseconds(100));  // a few polls
  EXPECT_TRUE(client_->reachable());
  clock_.AdvanceMillis(1);
  EXPECT_TRUE(Eventually([&] { return !client_->reachable(); }));
  EXPECT_TRUE(Eventually([&] { return observer_.SawController(false, 1); }));
  client_->Submit({Want(1, "a", 1)});  // dropped, not queued for later

  // A new controller on the same port, with other rules: the client's
  // heartbeats (one per kHeartbeatMs of the clock) reach it.
  other_catalog_.Replace(7, {MakeRule(9, 1, 1, 1)});
  server_ = NewServer(&other_catalog_);
  EXPECT_TRUE(testing::AdvanceUntil(&clock_, kHeartbeatMs, [&] {
    return client_->reachable() && observer_.rules_version() == 7;
  }));
  // From here on the clock stands still: the client stays reachable.
  auto rules = observer_.rules();
  EXPECT_NE(rules->Find(9), nullptr);
  EXPECT_EQ(rules->Find(1), nullptr);
  EXPECT_EQ(client_->rules_version(), 7);
  EXPECT_TRUE(Eventually([&] { return server_->connected_agents() == 1; }));

  client_->Submit({Want(9, "a", 1)});
  ASSERT_TRUE(Eventually([&] { return !observer_.grants().empty(); }));
  auto grants = observer_.grants();
  ASSERT_EQ(grants.size(), 1u);  // the request made while down never went
  EXPECT_EQ(grants[0].first.items[0].rule_id, 9);
  EXPECT_EQ(grants[0].first.items[0].tokens, 1);
}

using testing::FakeController;

RulesSnapshot Snapshot(int64_t version, std::vector<Rule> rules) {
  RulesSnapshot snapshot;
  snapshot.version = version;
  snapshot.agents = 1;
  snapshot.rules = std::move(rules);
  return snapshot;
}

class LeaseClientFakeControllerTest : public LeaseClientTest {
 protected:
  zmq::context_t context_;
};

TEST_F(LeaseClientFakeControllerTest, AsksForASnapshotWhenADeltaDoesNotFit) {
  FakeController controller(context_, endpoint_);
  StartClient();
  std::optional<Hello> hello = controller.Await<Hello>();
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ(hello->agent_id, "test-agent");
  EXPECT_EQ(hello->protocol, kProtocolVersion);

  controller.Send(Snapshot(1, {MakeRule(1, 1, 10, 20)}));
  ASSERT_TRUE(Eventually([&] { return observer_.rules_version() == 1; }));

  RulesDelta next;
  next.base_version = 1;
  next.version = 2;
  next.upserts = {MakeRule(2, 1, 5, 5)};
  controller.Send(next);
  ASSERT_TRUE(Eventually([&] { return observer_.rules_version() == 2; }));
  EXPECT_EQ(observer_.rules()->size(), 2u);

  RulesDelta gap;
  gap.base_version = 5;
  gap.version = 6;
  gap.deletes = {1};
  controller.Send(gap);
  EXPECT_TRUE(controller.Await<SnapshotRequest>().has_value());
  EXPECT_EQ(client_->rules_version(), 2);  // the delta was not applied

  controller.Send(Snapshot(6, {MakeRule(2, 1, 5, 5)}));
  ASSERT_TRUE(Eventually([&] { return observer_.rules_version() == 6; }));
  EXPECT_EQ(observer_.rules()->Find(1), nullptr);
}

TEST_F(LeaseClientFakeControllerTest,
       HeartbeatWithAnotherVersionAsksForSnapshot) {
  FakeController controller(context_, endpoint_);
  StartClient();
  ASSERT_TRUE(controller.Await<Hello>().has_value());
  controller.Send(Snapshot(1, {}));
  ASSERT_TRUE(Eventually([&] { return observer_.rules_version() == 1; }));

  clock_.AdvanceMillis(kHeartbeatMs);  // time for a heartbeat
  std::optional<Heartbeat> heartbeat = controller.Await<Heartbeat>();
  ASSERT_TRUE(heartbeat.has_value());
  EXPECT_EQ(heartbeat->rules_version, 1);
  Heartbeat reply;
  reply.rules_version = 1;
  reply.agents = 3;
  controller.Send(reply);
  ASSERT_TRUE(Eventually([&] { return client_->agents() == 3; }));
  EXPECT_TRUE(Eventually([&] { return observer_.SawController(true, 3); }));

  reply.rules_version = 4;
  controller.Send(reply);
  EXPECT_TRUE(controller.Await<SnapshotRequest>().has_value());
}

TEST_F(LeaseClientFakeControllerTest, IgnoresBadFramesFromTheController) {
  FakeController controller(context_, endpoint_);
  StartClient();
  ASSERT_TRUE(controller.Await<Hello>().has_value());

  controller.SendFrames({"not json at all"});
  controller.SendFrames({"{}", "two frames"});
  controller.SendFrames({R"({"type": "no_such_type"})"});
  controller.Send(Hello{});  // a message only agents send
  LeaseGrant unknown_seq;
  unknown_seq.seq = 424242;
  controller.Send(unknown_seq);
  controller.Send(Snapshot(8, {MakeRule(1, 1, 10, 20)}));

  ASSERT_TRUE(Eventually([&] { return observer_.rules_version() == 8; }));
  EXPECT_TRUE(observer_.grants().empty());
  EXPECT_TRUE(client_->reachable());
}

TEST_F(LeaseClientFakeControllerTest, SaysHelloAgainWhenTheControllerReturns) {
  FakeController controller(context_, endpoint_);
  StartClient();
  ASSERT_TRUE(controller.Await<Hello>().has_value());
  controller.Send(Snapshot(1, {}));
  ASSERT_TRUE(Eventually([&] { return client_->reachable(); }));

  // Silence (heartbeats unanswered) for longer than kReachableTimeoutMs
  // makes it unreachable...
  clock_.AdvanceMillis(kReachableTimeoutMs + 1);
  ASSERT_TRUE(Eventually([&] { return !client_->reachable(); }));
  // ...and the first word from the controller brings a new Hello.
  Heartbeat reply;
  reply.rules_version = 1;
  reply.agents = 1;
  controller.Send(reply);
  std::optional<Hello> hello = controller.Await<Hello>();
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ(hello->rules_version, 1);
  EXPECT_TRUE(client_->reachable());
}

// A client reachable through a FakeController, with one report sent and
// not answered yet, then stopped with a drain of up to 30 s on a thread of
// its own.
class LeaseClientStopTest : public LeaseClientFakeControllerTest {
 protected:
  ~LeaseClientStopTest() override {
    if (stopper_.joinable()) stopper_.join();
  }

  // The report's request, as the controller received it.
  std::optional<LeaseRequest> StartWithAReportOut(FakeController* controller) {
    StartClient();
    if (!controller->Await<Hello>().has_value()) return std::nullopt;
    controller->Send(Snapshot(1, {MakeRule(1, 1, 10, 20)}));
    if (!Eventually([&] { return client_->reachable(); })) return std::nullopt;
    client_->Submit({Want(1, "a", 0)});
    return controller->Await<LeaseRequest>();
  }

  void StopInTheBackground() {
    stopper_ = std::thread([this] {
      client_->Stop(SteadyClock::now() + std::chrono::seconds(30));
      stopped_ = true;
    });
  }

  std::atomic<bool> stopped_{false};
  std::thread stopper_;
};

// A stopping agent's last reports count once their owner has them: a
// draining Stop() returns when the controller has answered every lease
// request, not before.
TEST_F(LeaseClientStopTest, WaitsForTheGrantsOfItsRequests) {
  FakeController controller(context_, endpoint_);
  std::optional<LeaseRequest> request = StartWithAReportOut(&controller);
  ASSERT_TRUE(request.has_value());
  StopInTheBackground();
  controller.Drain(milliseconds(300));  // heartbeats, if any; no grant
  EXPECT_FALSE(stopped_.load()) << "stopped before the grant came";
  LeaseGrant grant;
  grant.seq = request->seq;
  controller.Send(grant);
  EXPECT_TRUE(Eventually([&] { return stopped_.load(); }));
}

// ... but does not wait for a controller that went quiet: its grants will
// not come.
TEST_F(LeaseClientStopTest, DoesNotWaitForAQuietController) {
  FakeController controller(context_, endpoint_);
  ASSERT_TRUE(StartWithAReportOut(&controller).has_value());
  StopInTheBackground();
  controller.Drain(milliseconds(100));
  EXPECT_FALSE(stopped_.load());
  clock_.AdvanceMillis(kReachableTimeoutMs + 1);  // nothing heard since
  EXPECT_TRUE(Eventually([&] { return stopped_.load(); }));
}

// Flush() returns once the client thread has handed every batch given
// before the call to on_submitted (where the agent's usage summaries are
// made), however slow that is; with no controller, as here, too.
TEST_F(LeaseClientTest, FlushReturnsOnceEveryBatchIsHandedOn) {
  std::atomic<int> handed{0};
  LeaseClientCallbacks callbacks = observer_.Callbacks();
  callbacks.on_submitted = [&handed](const std::vector<LeaseWant>& wants) {
    std::this_thread::sleep_for(milliseconds(20));  // a slow consumer
    handed += static_cast<int>(wants.size());
  };
  LeaseClientOptions options;
  options.endpoint = endpoint_;
  LeaseClient client(options, callbacks, &clock_);
  ASSERT_TRUE(client.Start().ok());
  LeaseWant want;
  want.rule_id = 1;
  want.values = {"a"};
  want.admitted = 1;
  for (int i = 0; i < 4; ++i) client.Submit({want});
  client.Summarize({want, want});
  client.Flush(SteadyClock::now() + std::chrono::seconds(30));
  EXPECT_EQ(handed.load(), 6);
  client.Flush(SteadyClock::now() +
               std::chrono::seconds(30));  // nothing new: returns at once
  client.Stop();
  client.Flush(SteadyClock::now() +
               std::chrono::seconds(30));  // not running: returns at once
}

TEST(LeaseClientStartTest, RefusesAMalformedEndpoint) {
  LeaseClientOptions options;
  options.endpoint = "not-an-endpoint";
  LeaseClient client(options, {}, &SystemClock::Get());
  Status started = client.Start();
  EXPECT_EQ(started.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(started.message().find("not-an-endpoint"), std::string::npos)
      << started.message();
}

// Nice values of this process' threads named `name`, from /proc.
std::vector<int> NiceOfThreads(const std::string& name) {
  std::vector<int> nices;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string line;
    std::getline(comm, line);
    if (line != name) continue;
    const auto tid = static_cast<id_t>(std::stoi(task.path().filename()));
    nices.push_back(::getpriority(PRIO_PROCESS, tid));
  }
  return nices;
}

TEST(LeaseClientStartTest, RunsItsThreadsAtALowerPriority) {
  const int own = ::getpriority(PRIO_PROCESS, 0);
  const size_t io_before = NiceOfThreads("ZMQbg/IO/0").size();
  LeaseClientOptions options;
  options.endpoint =
      "tcp://127.0.0.1:" + std::to_string(testing::PickFreePort());
  LeaseClient client(options, {}, &SystemClock::Get());
  ASSERT_TRUE(client.Start().ok());
  // ZeroMQ's I/O thread of the client's context: one more, at +10. (It
  // names itself once it runs.)
  std::vector<int> io = NiceOfThreads("ZMQbg/IO/0");
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (io.size() <= io_before &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    io = NiceOfThreads("ZMQbg/IO/0");
  }
  EXPECT_EQ(io.size(), io_before + 1);
  EXPECT_EQ(std::count(io.begin(), io.end(), std::min(19, own + 10)), 1);
  EXPECT_EQ(::getpriority(PRIO_PROCESS, 0), own);  // the caller's is kept
  client.Stop();
}

}  // namespace
}  // namespace sluice
