// LeaseClient with several controllers, against fake controllers (ROUTER
// sockets driven by the test, speaking common/wire.h): routing to owners,
// adopting the highest controller set from any controller, learned
// endpoints, an owner away, rules that never move back, and controllers
// that know no set.
//
// Time: the client reads a SimulatedClock that only the test moves (see
// lease_client_test.cc); wall time only bounds the waits.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "agent/check/owner_map.h"
#include "agent/lease/lease_client.h"
#include "common/bucket_key.h"
#include "common/membership.h"
#include "common/wire.h"
#include "tests/agent/lease/fake_controller.h"
#include "tests/support/free_port.h"
#include "tests/support/simulated_clock.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;
using testing::FakeController;

constexpr milliseconds kWait{10000};
// Long enough to see that something does NOT arrive.
constexpr milliseconds kQuiet{300};
constexpr int64_t kHeartbeatMs = 50;
constexpr int64_t kReachableTimeoutMs = 300;

template <typename Predicate>
bool Eventually(Predicate predicate, milliseconds timeout = kWait) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return predicate();
}

Rule MakeRule(int64_t id, int64_t version) {
  Rule rule;
  rule.id = id;
  rule.version = version;
  rule.name = "rule-" + std::to_string(id);
  rule.domain = "api";
  rule.match = {{"client_id", "*"}};
  rule.limit = 10;
  rule.period_ms = 1000;
  rule.burst = 10;
  return rule;
}

RulesSnapshot Snapshot(int64_t version, int64_t agents = 1) {
  RulesSnapshot snapshot;
  snapshot.version = version;
  snapshot.agents = agents;
  snapshot.rules = {MakeRule(1, 1)};
  return snapshot;
}

std::vector<LeaseWant> Wants(int n) {
  std::vector<LeaseWant> wants;
  for (int i = 0; i < n; ++i) {
    LeaseWant want;
    want.rule_id = 1;
    want.values = {"client-" + std::to_string(i)};
    want.want = 1;
    wants.push_back(want);
  }
  return wants;
}

std::set<std::string> Clients(const std::vector<LeaseRequest>& requests) {
  std::set<std::string> clients;
  for (const LeaseRequest& request : requests) {
    for (const LeaseWant& want : request.items) clients.insert(want.values[0]);
  }
  return clients;
}

class LeaseClientClusterTest : public ::testing::Test {
 protected:
  // Controllers a, b (given) and c (not given).
  LeaseClientClusterTest() {
    for (int i = 0; i < 3; ++i) {
      endpoints_.push_back("tcp://127.0.0.1:" +
                           std::to_string(sluice::testing::PickFreePort()));
      fakes_.push_back(
          std::make_unique<FakeController>(context_, endpoints_.back()));
    }
  }
  ~LeaseClientClusterTest() override {
    if (client_) client_->Stop();
  }

  FakeController& fake(int i) { return *fakes_[static_cast<size_t>(i)]; }
  ControllerMember Member(int i) {
    return ControllerMember{std::string(1, static_cast<char>('a' + i)),
                            endpoints_[static_cast<size_t>(i)]};
  }
  Controllers Set(int64_t version, std::vector<int> members, int self) {
    Controllers message;
    message.set.version = version;
    for (int i : members) message.set.members.push_back(Member(i));
    message.self_id = Member(self).id;
    return message;
  }

  void StartClient(const std::string& endpoints) {
    LeaseClientOptions options;
    options.endpoint = endpoints;
    options.agent_id = "cluster-agent";
    options.heartbeat_ms = kHeartbeatMs;
    options.reachable_timeout_ms = kReachableTimeoutMs;
    LeaseClientCallbacks callbacks;
    callbacks.on_rules = [this](std::shared_ptr<const RuleIndex> index) {
      std::lock_guard<std::mutex> lock(mu_);
      rules_versions_.push_back(index->version());
    };
    callbacks.on_owners = [this](std::shared_ptr<const OwnerMap> owners) {
      std::lock_guard<std::mutex> lock(mu_);
      owners_ = std::move(owners);
    };
    client_ = std::make_unique<LeaseClient>(options, callbacks, &clock_);
    Status started = client_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
  }
  void StartClientWithAB() { StartClient(endpoints_[0] + "," + endpoints_[1]); }

  // Each of `controllers` answers the Hello with a snapshot (and, when
  // `set` > 0, the controller set of a and b at that version).
  void Greet(std::vector<int> controllers, int64_t set) {
    for (int i : controllers) {
      ASSERT_TRUE(fake(i).Await<Hello>().has_value()) << i;
      fake(i).Send(Snapshot(1));
      if (set > 0) fake(i).Send(Set(set, {0, 1}, i));
    }
  }

  std::shared_ptr<const OwnerMap> owners() {
    std::lock_guard<std::mutex> lock(mu_);
    return owners_;
  }
  std::vector<int64_t> rules_versions() {
    std::lock_guard<std::mutex> lock(mu_);
    return rules_versions_;
  }
  // The clients of Wants(n) that `member` owns in set `set`.
  std::set<std::string> OwnedBy(const Controllers& set, int member, int n) {
    const Ownership ownership(set.set);
    std::set<std::string> out;
    for (const LeaseWant& want : Wants(n)) {
      const ControllerMember* owner =
          ownership.OwnerOf(MakeBucketKey(want.rule_id, want.values));
      if (owner != nullptr && owner->id == Member(member).id) {
        out.insert(want.values[0]);
      }
    }
    return out;
  }

  zmq::context_t context_;
  std::vector<std::string> endpoints_;
  std::vector<std::unique_ptr<FakeController>> fakes_;
  sluice::testing::SimulatedClock clock_;
  std::mutex mu_;
  std::vector<int64_t> rules_versions_;
  std::shared_ptr<const OwnerMap> owners_;
  std::unique_ptr<LeaseClient> client_;
};

TEST_F(LeaseClientClusterTest, SendsEachItemToItsBucketsOwner) {
  StartClientWithAB();
  Greet({0, 1}, 1);
  ASSERT_TRUE(Eventually([&] {
    return client_->controller_set_version() == 1 &&
           client_->controllers_reachable() == 2;
  }));
  client_->Submit(Wants(40));
  const Controllers set = Set(1, {0, 1}, 0);
  const std::set<std::string> a = OwnedBy(set, 0, 40);
  const std::set<std::string> b = OwnedBy(set, 1, 40);
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  ASSERT_TRUE(fake(0).Await<LeaseRequest>().has_value());
  ASSERT_TRUE(fake(1).Await<LeaseRequest>().has_value());
  EXPECT_EQ(Clients(fake(0).requests()), a);
  EXPECT_EQ(Clients(fake(1).requests()), b);
  // A grant from either comes back to the caller's callback (by seq).
  EXPECT_EQ(client_->rules_version(), 1);
}

TEST_F(LeaseClientClusterTest, AdoptsAHigherSetFromAnyAndFollowsItsMembers) {
  StartClientWithAB();
  Greet({0, 1}, 1);
  ASSERT_TRUE(
      Eventually([&] { return client_->controller_set_version() == 1; }));

  // b's heartbeat shows set 2: the client asks b for a snapshot, which
  // brings its Controllers (a, b and c, which was not given).
  Heartbeat beat;
  beat.rules_version = 1;
  beat.agents = 1;
  beat.controllers_version = 2;
  fake(1).Send(beat);
  ASSERT_TRUE(fake(1).Await<SnapshotRequest>().has_value());
  fake(1).Send(Snapshot(1));
  fake(1).Send(Set(2, {0, 1, 2}, 1));
  ASSERT_TRUE(
      Eventually([&] { return client_->controller_set_version() == 2; }));
  // The learned member is connected to and greeted.
  std::optional<Hello> hello = fake(2).Await<Hello>();
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ(hello->rules_version, 1);
  fake(2).Send(Snapshot(1));
  fake(2).Send(Set(2, {0, 1, 2}, 2));
  ASSERT_TRUE(
      Eventually([&] { return client_->controllers_reachable() == 3; }));
  // A lower set from a lagging controller changes nothing.
  fake(0).Send(Set(1, {0, 1}, 0));
  client_->Submit(Wants(60));
  ASSERT_TRUE(fake(2).Await<LeaseRequest>().has_value());
  EXPECT_EQ(Clients(fake(2).requests()), OwnedBy(Set(2, {0, 1, 2}, 0), 2, 60));
  EXPECT_EQ(client_->controller_set_version(), 2);

  // c leaves (set 3 from a): its connection is dropped, so it hears no
  // more heartbeats.
  fake(0).Send(Set(3, {0, 1}, 0));
  ASSERT_TRUE(
      Eventually([&] { return client_->controller_set_version() == 3; }));
  ASSERT_TRUE(Eventually([&] { return owners()->connection_count() == 2; }));
  fake(2).Drain(kQuiet);
  clock_.AdvanceMillis(kHeartbeatMs);
  EXPECT_TRUE(fake(0).Await<Heartbeat>().has_value());
  EXPECT_FALSE(fake(2).Await<Heartbeat>(kQuiet).has_value());
}

TEST_F(LeaseClientClusterTest, AnOwnerAwayLosesOnlyItsOwnBuckets) {
  StartClientWithAB();
  Greet({0, 1}, 1);
  ASSERT_TRUE(
      Eventually([&] { return client_->controllers_reachable() == 2; }));
  // Silence past the timeout; then only a answers.
  clock_.AdvanceMillis(kReachableTimeoutMs + 1);
  ASSERT_TRUE(
      Eventually([&] { return client_->controllers_reachable() == 0; }));
  Heartbeat beat;
  beat.rules_version = 1;
  beat.agents = 4;
  beat.controllers_version = 1;
  fake(0).Send(beat);
  ASSERT_TRUE(
      Eventually([&] { return client_->controllers_reachable() == 1; }));
  EXPECT_TRUE(client_->reachable());
  EXPECT_TRUE(Eventually([&] { return client_->agents() == 4; }));

  const Controllers set = Set(1, {0, 1}, 0);
  std::shared_ptr<const OwnerMap> map = owners();
  ASSERT_NE(map, nullptr);
  EXPECT_TRUE(map->any_reachable());
  EXPECT_FALSE(map->all_reachable());
  for (const LeaseWant& want : Wants(40)) {
    const std::string key = MakeBucketKey(want.rule_id, want.values);
    EXPECT_EQ(map->Reachable(key),
              OwnedBy(set, 0, 40).count(want.values[0]) > 0);
  }

  fake(0).ClearRequests();
  fake(1).ClearRequests();
  client_->Submit(Wants(40));
  ASSERT_TRUE(fake(0).Await<LeaseRequest>().has_value());
  EXPECT_EQ(Clients(fake(0).requests()), OwnedBy(set, 0, 40));
  fake(1).Drain(kQuiet);
  EXPECT_TRUE(fake(1).requests().empty());
}

TEST_F(LeaseClientClusterTest, ALaggingControllerNeverMovesTheRulesBack) {
  StartClientWithAB();
  ASSERT_TRUE(fake(0).Await<Hello>().has_value());
  ASSERT_TRUE(fake(1).Await<Hello>().has_value());
  fake(0).Send(Snapshot(5));
  ASSERT_TRUE(Eventually([&] { return client_->rules_version() == 5; }));
  fake(1).Send(Snapshot(3));  // lagging
  RulesDelta delta;
  delta.base_version = 5;
  delta.version = 6;
  delta.upserts = {MakeRule(2, 1)};
  fake(0).Send(delta);
  ASSERT_TRUE(Eventually([&] { return client_->rules_version() == 6; }));
  // The same change from b, late: no news, and no snapshot asked for.
  fake(1).Send(delta);
  Heartbeat behind;
  behind.rules_version = 3;
  behind.agents = 1;
  fake(1).Send(behind);
  EXPECT_FALSE(fake(1).Await<SnapshotRequest>(kQuiet).has_value());
  EXPECT_EQ(client_->rules_version(), 6);
  // Ahead: b is asked for its snapshot.
  Heartbeat ahead = behind;
  ahead.rules_version = 7;
  fake(1).Send(ahead);
  EXPECT_TRUE(fake(1).Await<SnapshotRequest>().has_value());
  std::vector<int64_t> seen = rules_versions();
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_GT(seen[i], seen[i - 1]);
}

TEST_F(LeaseClientClusterTest, ControllersWithNoSetGetEverythingInTurn) {
  StartClientWithAB();
  Greet({0, 1}, 0);  // older controllers: no Controllers message
  ASSERT_TRUE(
      Eventually([&] { return client_->controllers_reachable() == 2; }));
  EXPECT_EQ(client_->controller_set_version(), 0);
  client_->Submit(Wants(20));
  ASSERT_TRUE(fake(0).Await<LeaseRequest>().has_value());
  EXPECT_EQ(Clients(fake(0).requests()).size(), 20u);
  UsageReport report;
  report.agent_id = "cluster-agent";
  report.incarnation = 1;
  report.seq = 1;
  client_->SubmitUsage(report);
  ASSERT_TRUE(fake(0).Await<UsageReport>().has_value());

  // a goes silent, b answers: b gets everything, usage included.
  clock_.AdvanceMillis(kReachableTimeoutMs + 1);
  ASSERT_TRUE(
      Eventually([&] { return client_->controllers_reachable() == 0; }));
  Heartbeat beat;
  beat.rules_version = 1;
  beat.agents = 1;
  fake(1).Send(beat);
  ASSERT_TRUE(
      Eventually([&] { return client_->controllers_reachable() == 1; }));
  client_->Submit(Wants(20));
  ASSERT_TRUE(fake(1).Await<LeaseRequest>().has_value());
  EXPECT_EQ(Clients(fake(1).requests()).size(), 20u);
  // The unacknowledged report is sent again, now to b.
  clock_.AdvanceMillis(5000);
  fake(1).Send(beat);
  EXPECT_TRUE(fake(1).Await<UsageReport>().has_value());
}

}  // namespace
}  // namespace sluice
