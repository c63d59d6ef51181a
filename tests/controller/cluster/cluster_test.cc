// Several controllers on one real PostgreSQL database
// (docs/high-availability.md): in-process Controllers on free loopback
// ports, and one sluice-controller process killed with SIGKILL.
//   - the controller set converges on every member, and a killed member
//     leaves it within T_dead + P (+ one round), all members agreeing;
//   - a controller answers items of buckets another member owns with no
//     lease and sends the agent the set; it grants its own;
//   - writes through two controllers with If-Match: the stale one gets 412;
//   - a rule created through one controller reaches an agent connected to
//     another within 1 s (the heartbeat reads the rules' revision).
// Waits are for conditions, bounded; processes are stopped by PID.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "common/bucket_key.h"
#include "common/membership.h"
#include "common/wire.h"
#include "controller/controller.h"
#include "tests/controller/api_fixture.h"
#include "tests/controller/http_test_client.h"
#include "tests/controller/raw_agent.h"
#include "tests/support/free_port.h"
#include "tests/support/process.h"
#include "tests/support/test_database.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;
using testing::HttpResult;
using testing::HttpTestClient;
using web::http::methods;

constexpr char kToken[] = "cluster-test-admin-token";

template <typename F>
bool Eventually(F condition, milliseconds timeout = milliseconds(15000)) {
  const auto deadline = SteadyClock::now() + timeout;
  while (SteadyClock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return condition();
}

std::string Local() {
  return "127.0.0.1:" + std::to_string(testing::PickFreePort());
}

class ClusterTest : public ::testing::Test {
 protected:
  std::unique_ptr<Controller> StartController(int64_t catalog_sync_ms = 1000,
                                              int64_t lease_ttl_ms = 500) {
    ControllerOptions options;
    options.db = db_.conninfo();
    options.http = Local();
    options.agents = "tcp://" + Local();
    options.admin_token = kToken;
    options.db_retry_ms = 100;
    options.catalog_sync_ms = catalog_sync_ms;
    options.lease_ttl_ms = lease_ttl_ms;
    // No restart learning: a fresh database has no earlier incarnation,
    // and budgets that start full show ownership plainly.
    options.learning_ms = 0;
    options.token_out = &token_out_;
    auto controller = std::make_unique<Controller>(options);
    EXPECT_TRUE(controller->Start().ok());
    EXPECT_TRUE(controller->WaitUntilReady(15000).ok());
    https_[controller.get()] = options.http;
    agents_[controller.get()] = options.agents;
    return controller;
  }
  HttpTestClient Client(Controller* c) {
    HttpTestClient client("http://" + https_[c]);
    client.set_token(kToken);
    return client;
  }

  testing::TestDatabase db_;
  std::ostringstream token_out_;
  std::map<Controller*, std::string> https_;
  std::map<Controller*, std::string> agents_;
};

bool SameSet(const ClusterState& a, const ClusterState& b) {
  return a.set.version > 0 && a.set == b.set;
}

TEST_F(ClusterTest, SetConvergesAndAKilledMemberLeavesInTime) {
  std::unique_ptr<Controller> a = StartController();
  std::unique_ptr<Controller> b = StartController();
  // A third member: a real process, to be killed without a word.
  testing::ChildProcess c;
  const std::string c_http = Local();
  const std::string c_agents = "tcp://" + Local();
  c.Start({testing::BuiltBinary("controller/sluice-controller"), "--http",
           c_http, "--agents", c_agents, "--migrations",
           std::string(SLUICE_SOURCE_DIR) + "/migrations"},
          {{"SLUICE_DB", db_.conninfo()}, {"SLUICE_ADMIN_TOKEN", kToken}},
          "/tmp/sluice_cluster_test_" + std::to_string(::getpid()) + ".log");
  ASSERT_TRUE(Eventually([&] {
    return a->cluster_state().set.members.size() == 3 &&
           SameSet(a->cluster_state(), b->cluster_state());
  })) << c.LogTail();
  const ClusterState three = a->cluster_state();
  EXPECT_EQ(three.self_id, a->member_id());
  EXPECT_GE(Ownership(three.set).IndexOf(a->member_id()), 0);
  EXPECT_GE(Ownership(three.set).IndexOf(b->member_id()), 0);
  bool c_listed = false;
  for (const ControllerMember& m : three.set.members) {
    c_listed = c_listed || m.endpoint == c_agents;
  }
  EXPECT_TRUE(c_listed);

  // /readyz and GET /api/v1/controllers say the same.
  HttpTestClient client = Client(a.get());
  HttpResult ready = client.Send(methods::GET, "/readyz", "", false);
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(ready.json["cluster"]["id"], a->member_id());
  EXPECT_EQ(ready.json["cluster"]["set_version"], three.set.version);
  EXPECT_EQ(ready.json["cluster"]["members"].size(), 3u);
  EXPECT_EQ(ready.json["cluster"]["fenced"], false);
  HttpResult listed = client.Get("/api/v1/controllers");
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(listed.json["controllers"].size(), 3u) << listed.body;
  for (const auto& row : listed.json["controllers"]) {
    EXPECT_LT(row["heartbeat_age_ms"].get<int64_t>(), 3000) << row.dump();
    EXPECT_TRUE(row["in_set"].get<bool>()) << row.dump();
  }

  // SIGKILL: it leaves within T_dead + P (+ a round trip and the lease
  // thread's pick-up), and both survivors agree on the new set.
  const auto killed = SteadyClock::now();
  c.Kill();
  ASSERT_TRUE(Eventually([&] {
    return a->cluster_state().set.members.size() == 2 &&
           SameSet(a->cluster_state(), b->cluster_state());
  }));
  const int64_t left_ms =
      std::chrono::duration_cast<milliseconds>(SteadyClock::now() - killed)
          .count();
  std::printf("a killed controller left the set after %lld ms\n",
              static_cast<long long>(left_ms));
  EXPECT_LE(left_ms, 3000 + 250 + 400);
  EXPECT_GT(a->cluster_state().set.version, three.set.version);

  // A clean stop leaves at once (well before T_dead).
  const auto stopped = SteadyClock::now();
  b->Stop();
  ASSERT_TRUE(
      Eventually([&] { return a->cluster_state().set.members.size() == 1; }));
  EXPECT_LT(
      std::chrono::duration_cast<milliseconds>(SteadyClock::now() - stopped)
          .count(),
      2000);
}

TEST_F(ClusterTest, ItemsOfBucketsOwnedElsewhereGetNoLeaseAndTheSet) {
  std::unique_ptr<Controller> a = StartController();
  HttpTestClient client = Client(a.get());
  HttpResult created =
      client.Post("/api/v1/rules", testing::RuleNamed("split", 1000).dump());
  ASSERT_EQ(created.status, 201) << created.body;
  const int64_t rule_id = created.json["id"];
  std::unique_ptr<Controller> b = StartController();
  ASSERT_TRUE(Eventually([&] {
    return a->cluster_state().set.members.size() == 2 &&
           SameSet(a->cluster_state(), b->cluster_state());
  }));
  const ControllerSet set = a->cluster_state().set;
  const Ownership ownership(set);

  zmq::context_t context;
  testing::RawAgent agent(context, agents_[a.get()]);
  ASSERT_TRUE(agent.Connect("agent-1").has_value());
  // The joiner got about half of 400 buckets.
  std::vector<LeaseWant> items;
  int owned_by_a = 0;
  std::vector<bool> mine;
  for (int k = 0; k < 400; ++k) {
    LeaseWant want;
    want.rule_id = rule_id;
    want.values = {"client-" + std::to_string(k)};
    want.want = 1;
    std::string key;
    MakeBucketKey(rule_id, want.values, &key);
    const bool is_a = ownership.OwnerOf(key)->id == a->member_id();
    owned_by_a += is_a ? 1 : 0;
    mine.push_back(is_a);
    items.push_back(std::move(want));
  }
  EXPECT_GT(owned_by_a, 140);
  EXPECT_LT(owned_by_a, 260);
  std::optional<LeaseGrant> grant = agent.Lease(7, items);
  ASSERT_TRUE(grant.has_value());
  ASSERT_EQ(grant->items.size(), 400u);
  for (size_t i = 0; i < 400; ++i) {
    if (mine[i]) {
      EXPECT_GT(grant->items[i].tokens, 0) << i;
    } else {
      EXPECT_EQ(grant->items[i].tokens, 0) << i;
      EXPECT_EQ(grant->items[i].ttl_ms, 0) << i;
    }
  }
  std::optional<Controllers> told = agent.Await<Controllers>();
  ASSERT_TRUE(told.has_value());
  EXPECT_EQ(told->set, set);
  EXPECT_EQ(told->self_id, a->member_id());
}

TEST_F(ClusterTest, StaleWriteThroughAnotherControllerGets412) {
  std::unique_ptr<Controller> a = StartController();
  std::unique_ptr<Controller> b = StartController();
  HttpTestClient via_a = Client(a.get());
  HttpTestClient via_b = Client(b.get());
  HttpResult created =
      via_a.Post("/api/v1/rules", testing::RuleNamed("shared", 10).dump());
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string path =
      "/api/v1/rules/" + std::to_string(created.json["id"].get<int64_t>());
  const std::string etag = via_b.Get(path).Header("ETag");
  ASSERT_FALSE(etag.empty());
  HttpResult first =
      via_a.PutIf(path, testing::RuleNamed("shared", 20).dump(), etag);
  EXPECT_EQ(first.status, 200) << first.body;
  HttpResult stale =
      via_b.PutIf(path, testing::RuleNamed("shared", 30).dump(), etag);
  EXPECT_EQ(stale.status, 412) << stale.body;
  EXPECT_EQ(via_b.Get(path).json["limit"], 20);
}

TEST_F(ClusterTest, RuleCreatedThroughOneReachesAnotherOnesAgentWithin1s) {
  std::unique_ptr<Controller> a = StartController();
  // B polls the catalog only every 10 s: only the heartbeat's look at the
  // rules' revision can bring the change in time.
  std::unique_ptr<Controller> b = StartController(/*catalog_sync_ms=*/10'000);
  zmq::context_t context;
  testing::RawAgent agent(context, agents_[b.get()]);
  ASSERT_TRUE(agent.Connect("agent-b").has_value());
  HttpTestClient via_a = Client(a.get());
  for (int round = 0; round < 3; ++round) {
    const std::string name = "from-a-" + std::to_string(round);
    const auto sent = SteadyClock::now();
    HttpResult created =
        via_a.Post("/api/v1/rules", testing::RuleNamed(name).dump());
    ASSERT_EQ(created.status, 201) << created.body;
    bool seen = false;
    while (!seen && SteadyClock::now() - sent < milliseconds(3000)) {
      std::optional<WireMessage> message = agent.Receive(milliseconds(50));
      if (!message) continue;
      if (const auto* delta = std::get_if<RulesDelta>(&*message)) {
        for (const Rule& rule : delta->upserts)
          seen = seen || rule.name == name;
      } else if (const auto* snap = std::get_if<RulesSnapshot>(&*message)) {
        for (const Rule& rule : snap->rules) seen = seen || rule.name == name;
      }
    }
    const int64_t ms =
        std::chrono::duration_cast<milliseconds>(SteadyClock::now() - sent)
            .count();
    std::printf("rule created through A reached B's agent after %lld ms\n",
                static_cast<long long>(ms));
    EXPECT_TRUE(seen);
    EXPECT_LT(ms, 1000);
  }
}

}  // namespace
}  // namespace sluice
