// LeaseServer over real ZeroMQ sockets: a raw DEALER plays the agent. What
// the server decides is LeaseLedger's, tested without sockets in
// lease_ledger_test.cc and lease_ledger_sweep_test.cc; these hold the
// server to it end to end: answers, pushes, metrics, forgetting.
#include "controller/lease/lease_server.h"

#include <gtest/gtest.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "common/wire.h"
#include "controller/catalog/rule_catalog.h"
#include "tests/controller/raw_agent.h"
#include "tests/support/free_port.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr milliseconds kWait{2000};  // deadline for anything to arrive

// A manual clock that the server thread may read while the test moves it
// (ManualClock is single-threaded by contract).
class SharedManualClock final : public Clock {
 public:
  int64_t NowNanos() const override { return now_.load(); }
  void AdvanceMillis(int64_t millis) { now_ += millis * kNanosPerMilli; }

 private:
  std::atomic<int64_t> now_{1000 * kNanosPerSecond};
};

Rule MakeRule(int64_t id, int64_t version, int64_t limit, int64_t burst,
              std::vector<std::pair<std::string, std::string>> match = {
                  {"client_id", "*"}}) {
  Rule rule;
  rule.id = id;
  rule.version = version;
  rule.name = "rule-" + std::to_string(id);
  rule.domain = "api";
  rule.match = std::move(match);
  rule.limit = limit;
  rule.period_ms = 1000;
  rule.burst = burst;
  return rule;
}

using testing::RawAgent;

// `admitted` includes `unleased` (as agents report it).
LeaseWant Want(int64_t rule_id, std::vector<std::string> values, int64_t want,
               int64_t unleased = 0, int64_t admitted = -1,
               int64_t refused = 0) {
  LeaseWant item;
  item.rule_id = rule_id;
  item.values = std::move(values);
  item.want = want;
  item.unleased = unleased;
  item.admitted = admitted < 0 ? unleased : admitted;
  item.refused = refused;
  return item;
}

int64_t TokensOf(const std::optional<LeaseGrant>& grant, size_t index = 0) {
  if (!grant || grant->items.size() <= index) return -1;
  return grant->items[index].tokens;
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

double MetricValue(prometheus::Registry& registry, const std::string& name) {
  for (const auto& family : registry.Collect()) {
    if (family.name != name || family.metric.empty()) continue;
    const auto& metric = family.metric[0];
    return family.type == prometheus::MetricType::Counter ? metric.counter.value
                                                          : metric.gauge.value;
  }
  return -1;
}

class LeaseServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    catalog_.Replace(3, {MakeRule(1, 1, 10, 20),
                         MakeRule(2, 1, 5, 5, {{"route", "/search"}})});
  }

  void StartServer(LeaseServerOptions options = {}) {
    options.endpoint = endpoint_;
    server_ =
        std::make_unique<LeaseServer>(options, &catalog_, &clock_, &registry_);
    Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
  }

  const std::string endpoint_ =
      "tcp://127.0.0.1:" + std::to_string(testing::PickFreePort());
  RuleCatalog catalog_;
  SharedManualClock clock_;
  prometheus::Registry registry_;
  zmq::context_t context_;
  std::unique_ptr<LeaseServer> server_;
};

TEST_F(LeaseServerTest, AnswersHelloWithSnapshot) {
  StartServer();
  RawAgent agent(context_, endpoint_);
  std::optional<RulesSnapshot> snapshot = agent.Connect();
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_EQ(snapshot->version, 3);
  EXPECT_EQ(snapshot->agents, 1);
  ASSERT_EQ(snapshot->rules.size(), 2u);
  EXPECT_EQ(snapshot->rules[0], MakeRule(1, 1, 10, 20));
  EXPECT_EQ(server_->connected_agents(), 1);
  EXPECT_EQ(MetricValue(registry_, "sluice_controller_agents_connected"), 1);
}

TEST_F(LeaseServerTest, PushesDeltaAfterCatalogChange) {
  StartServer();
  RawAgent first(context_, endpoint_);
  RawAgent second(context_, endpoint_);
  ASSERT_TRUE(first.Connect("first").has_value());
  ASSERT_TRUE(second.Connect("second").has_value());

  Rule changed = MakeRule(1, 2, 50, 100);
  catalog_.Upsert(4, changed);
  for (RawAgent* agent : {&first, &second}) {
    std::optional<RulesDelta> delta = agent->Await<RulesDelta>();
    ASSERT_TRUE(delta.has_value());
    EXPECT_EQ(delta->base_version, 3);
    EXPECT_EQ(delta->version, 4);
    ASSERT_EQ(delta->upserts.size(), 1u);
    EXPECT_EQ(delta->upserts[0], changed);
    EXPECT_TRUE(delta->deletes.empty());
  }

  catalog_.Remove(5, 2);
  std::optional<RulesDelta> removal = first.Await<RulesDelta>();
  ASSERT_TRUE(removal.has_value());
  EXPECT_EQ(removal->base_version, 4);
  EXPECT_EQ(removal->version, 5);
  EXPECT_TRUE(removal->upserts.empty());
  EXPECT_EQ(removal->deletes, std::vector<int64_t>{2});
}

TEST_F(LeaseServerTest, AnswersSnapshotRequestWithCurrentRules) {
  StartServer();
  RawAgent agent(context_, endpoint_);
  ASSERT_TRUE(agent.Connect().has_value());
  catalog_.Replace(9, {MakeRule(7, 1, 1, 1)});
  // An agent that saw a gap asks again and gets the whole current set. (A
  // request read in the same round as the server's last look at the
  // catalog gets the set as of that look, version 3: ask again then.)
  std::optional<RulesSnapshot> snapshot;
  for (int i = 0; i < 10 && (!snapshot || snapshot->version != 9); ++i) {
    agent.Send(SnapshotRequest{});
    snapshot = agent.Await<RulesSnapshot>();
    ASSERT_TRUE(snapshot.has_value());
  }
  EXPECT_EQ(snapshot->version, 9);
  ASSERT_EQ(snapshot->rules.size(), 1u);
  EXPECT_EQ(snapshot->rules[0].id, 7);
}

TEST_F(LeaseServerTest, UnknownAgentGetsSnapshotThenHeartbeat) {
  StartServer();
  RawAgent agent(context_, endpoint_);
  Heartbeat heartbeat;
  heartbeat.rules_version = 1;
  agent.Send(heartbeat);
  std::optional<WireMessage> first = agent.Receive(kWait);
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(std::holds_alternative<RulesSnapshot>(*first));
  std::optional<WireMessage> second = agent.Receive(kWait);
  ASSERT_TRUE(second.has_value());
  ASSERT_TRUE(std::holds_alternative<Heartbeat>(*second));
  EXPECT_EQ(std::get<Heartbeat>(*second).rules_version, 3);
  EXPECT_EQ(std::get<Heartbeat>(*second).agents, 1);
  EXPECT_EQ(server_->connected_agents(), 1);
}

TEST_F(LeaseServerTest, GrantsAreBoundedByBurstThenRefillAtRate) {
  LeaseServerOptions options;
  options.lease_ttl_ms = 1500;
  StartServer(options);
  RawAgent agent(context_, endpoint_);
  ASSERT_TRUE(agent.Connect().has_value());

  std::optional<LeaseGrant> grant = agent.Lease(1, {Want(1, {"a"}, 100)});
  ASSERT_TRUE(grant.has_value());
  ASSERT_EQ(grant->items.size(), 1u);
  EXPECT_EQ(grant->items[0].rule_id, 1);
  EXPECT_EQ(grant->items[0].values, std::vector<std::string>{"a"});
  EXPECT_EQ(grant->items[0].tokens, 20);  // the burst, not the 100 wanted
  EXPECT_EQ(grant->items[0].ttl_ms, 1500);

  // Spent at once (reported with the next request): nothing is left.
  EXPECT_EQ(TokensOf(agent.Lease(2, {Want(1, {"a"}, 100, 0, 20)})), 0);
  // Another value of the wildcard is another bucket.
  EXPECT_EQ(TokensOf(agent.Lease(3, {Want(1, {"b"}, 7)})), 7);

  clock_.AdvanceMillis(500);  // 10/s: 5 tokens
  EXPECT_EQ(TokensOf(agent.Lease(4, {Want(1, {"a"}, 100)})), 5);
  clock_.AdvanceMillis(1000);  // 10 more, 4 of them spent without a lease
  EXPECT_EQ(TokensOf(agent.Lease(5, {Want(1, {"a"}, 100, 4, 9)})), 6);
  clock_.AdvanceMillis(100'000);  // never more than the burst
  EXPECT_EQ(TokensOf(agent.Lease(6, {Want(1, {"a"}, 100, 0, 6)})), 20);

  EXPECT_EQ(MetricValue(registry_, "sluice_controller_lease_requests_total"),
            6);
  EXPECT_EQ(
      MetricValue(registry_, "sluice_controller_lease_tokens_granted_total"),
      20 + 7 + 5 + 6 + 20);
}

TEST_F(LeaseServerTest, ChangedRuleReconfiguresItsBudget) {
  StartServer();
  RawAgent agent(context_, endpoint_);
  ASSERT_TRUE(agent.Connect().has_value());
  EXPECT_EQ(TokensOf(agent.Lease(1, {Want(1, {"a"}, 100)})), 20);

  catalog_.Upsert(4, MakeRule(1, 2, 1, 3));  // 1/s, burst 3
  ASSERT_TRUE(agent.Await<RulesDelta>().has_value());
  // A report of the 20 spent (want 0): a grant with no item answers it.
  const std::optional<LeaseGrant> report =
      agent.Lease(2, {Want(1, {"a"}, 0, 0, 20)});
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->items.empty());
  clock_.AdvanceMillis(2000);
  EXPECT_EQ(TokensOf(agent.Lease(3, {Want(1, {"a"}, 100)})), 2);
  clock_.AdvanceMillis(60'000);
  EXPECT_EQ(TokensOf(agent.Lease(4, {Want(1, {"a"}, 100, 0, 2)})), 3);
}

// Two agents, both wanting more than the limit, asking every 50 ms and
// spending what they get: each gets half of the refill.
TEST_F(LeaseServerTest, HungryAgentsSplitTheRateByWeight) {
  catalog_.Upsert(4, MakeRule(9, 1, 1000, 300, {{"route", "/hot"}}));
  LeaseServerOptions options;
  options.agent_weights = {{"heavy", 3.0}};
  StartServer(options);
  RawAgent light(context_, endpoint_);
  RawAgent heavy(context_, endpoint_);
  ASSERT_TRUE(light.Connect("light").has_value());
  ASSERT_TRUE(heavy.Connect("heavy").has_value());
  int64_t last_light = 0, last_heavy = 0, got_light = 0, got_heavy = 0;
  for (uint64_t round = 1; round <= 40; ++round) {
    clock_.AdvanceMillis(50);
    last_light =
        TokensOf(light.Lease(round, {Want(9, {}, 1000, 0, last_light, 100)}));
    last_heavy =
        TokensOf(heavy.Lease(round, {Want(9, {}, 1000, 0, last_heavy, 100)}));
    ASSERT_GE(last_light, 0);
    ASSERT_GE(last_heavy, 0);
    if (round > 20) {  // the last second
      got_light += last_light;
      got_heavy += last_heavy;
    }
  }
  EXPECT_NEAR(got_light, 250, 25);
  EXPECT_NEAR(got_heavy, 750, 40);
  EXPECT_LE(got_light + got_heavy, 1000 + 5);
}

TEST_F(LeaseServerTest, AForgottenAgentsDemandAndShareGoToTheOthers) {
  LeaseServerOptions options;
  options.agent_timeout_ms = 1000;
  StartServer(options);
  RawAgent stays(context_, endpoint_);
  RawAgent goes(context_, endpoint_);
  ASSERT_TRUE(stays.Connect("stays").has_value());
  ASSERT_TRUE(goes.Connect("goes").has_value());
  ASSERT_GE(TokensOf(stays.Lease(1, {Want(1, {"a"}, 100, 0, 0, 50)})), 0);
  ASSERT_GE(TokensOf(goes.Lease(1, {Want(1, {"a"}, 100, 0, 0, 50)})), 0);
  // Both keep their heartbeats: a pass of the sweep (about a second of
  // the server's clock; the first pass after start is not published) sees
  // two agents in the bucket.
  for (int i = 0; i < 20 && server_->tracked_bucket_agents() != 2; ++i) {
    clock_.AdvanceMillis(200);
    for (RawAgent* agent : {&stays, &goes}) {
      agent->Send(Heartbeat{});
      ASSERT_TRUE(agent->Await<Heartbeat>().has_value());
    }
  }
  EXPECT_TRUE(
      Eventually([&] { return server_->tracked_bucket_agents() == 2; }));
  // "goes" falls silent and is forgotten, with its demand in the bucket.
  for (int i = 0; i < 6; ++i) {
    clock_.AdvanceMillis(200);
    stays.Send(Heartbeat{});
    ASSERT_TRUE(stays.Await<Heartbeat>().has_value());
  }
  EXPECT_TRUE(Eventually([&] { return server_->connected_agents() == 1; }))
      << server_->connected_agents();
  EXPECT_TRUE(
      Eventually([&] { return server_->tracked_bucket_agents() == 1; }));
  EXPECT_EQ(MetricValue(registry_, "sluice_controller_lease_bucket_agents"), 1);
  EXPECT_EQ(MetricValue(registry_, "sluice_controller_lease_buckets"), 1);
}

TEST_F(LeaseServerTest, UnknownDisabledOrMisfittingRulesGetNothing) {
  Rule disabled = MakeRule(3, 1, 10, 10);
  disabled.enabled = false;
  catalog_.Upsert(4, disabled);
  StartServer();
  RawAgent agent(context_, endpoint_);
  ASSERT_TRUE(agent.Connect().has_value());

  std::optional<LeaseGrant> grant =
      agent.Lease(1, {Want(99, {"a"}, 5), Want(3, {"a"}, 5),
                      Want(1, {}, 5),  // rule 1 has one wildcard key
                      Want(2, {}, 5)});
  ASSERT_TRUE(grant.has_value());
  ASSERT_EQ(grant->items.size(), 4u);
  EXPECT_EQ(grant->items[0].rule_id, 99);
  EXPECT_EQ(grant->items[0].tokens, 0);
  EXPECT_EQ(grant->items[1].tokens, 0);
  EXPECT_EQ(grant->items[2].tokens, 0);
  EXPECT_EQ(grant->items[3].tokens, 5);

  // Disabling a rule drops its budget: grants stop at once.
  Rule off = MakeRule(2, 2, 5, 5, {{"route", "/search"}});
  off.enabled = false;
  catalog_.Upsert(5, off);
  ASSERT_TRUE(agent.Await<RulesDelta>().has_value());
  EXPECT_EQ(TokensOf(agent.Lease(2, {Want(2, {}, 5)})), 0);
}

TEST_F(LeaseServerTest, LearningStartsEmptyAndGivesNoEmptyLeases) {
  LeaseServerOptions options;
  options.learning_ms = 1000;
  StartServer(options);
  EXPECT_EQ(MetricValue(registry_, "sluice_controller_learning"), 1);
  RawAgent agent(context_, endpoint_);
  ASSERT_TRUE(agent.Connect().has_value());

  // A restarted controller cannot know what its previous incarnation
  // leased: the budget starts empty (not at the burst). Unleased spending
  // is charged; a request that gets no tokens gets no lease at all (ttl 0),
  // so the agent keeps its old lease or its safe share.
  std::optional<LeaseGrant> learning =
      agent.Lease(1, {Want(1, {"a"}, 100, 15)});
  ASSERT_TRUE(learning.has_value());
  ASSERT_EQ(learning->items.size(), 1u);
  EXPECT_EQ(learning->items[0].tokens, 0);
  EXPECT_EQ(learning->items[0].ttl_ms, 0);
  // The debt of 15 is paid back at 10/s; meanwhile nothing is granted, and
  // refill nobody claims is not kept while learning.
  clock_.AdvanceMillis(999);
  learning = agent.Lease(2, {Want(1, {"a"}, 100)});
  EXPECT_EQ(TokensOf(learning), 0);
  EXPECT_EQ(learning->items[0].ttl_ms, 0);
  // An agent that refuses gets an empty lease rather than none: its safe
  // share would only add to what old leases may still admit.
  learning = agent.Lease(3, {Want(1, {"a"}, 100, 0, 0, 40)});
  EXPECT_EQ(TokensOf(learning), 0);
  EXPECT_EQ(learning->items[0].ttl_ms, options.lease_ttl_ms);
  clock_.AdvanceMillis(1);
  // After learning: ordinary leases, empty ones included.
  std::optional<LeaseGrant> after = agent.Lease(4, {Want(1, {"a"}, 100)});
  EXPECT_EQ(TokensOf(after), 0);
  EXPECT_EQ(after->items[0].ttl_ms, options.lease_ttl_ms);
  EXPECT_TRUE(Eventually([&] {
    return MetricValue(registry_, "sluice_controller_learning") == 0;
  }));
  clock_.AdvanceMillis(2500);  // 25 accrued, 5 of them pay the debt
  EXPECT_EQ(TokensOf(agent.Lease(5, {Want(1, {"a"}, 100)})), 20);
}

TEST_F(LeaseServerTest, WithoutLearningTheLearningGaugeIsZero) {
  StartServer();
  EXPECT_EQ(MetricValue(registry_, "sluice_controller_learning"), 0);
}

TEST_F(LeaseServerTest, LearningGrantsFairSharesOfTheRefill) {
  LeaseServerOptions options;
  options.learning_ms = 10'000;
  StartServer(options);
  RawAgent agent(context_, endpoint_);
  ASSERT_TRUE(agent.Connect().has_value());
  // A hungry agent gets its share of what accrued since it last asked.
  EXPECT_EQ(TokensOf(agent.Lease(1, {Want(1, {"a"}, 100, 0, 0, 30)})), 0);
  clock_.AdvanceMillis(500);
  std::optional<LeaseGrant> grant =
      agent.Lease(2, {Want(1, {"a"}, 100, 0, 0, 30)});
  ASSERT_TRUE(grant.has_value());
  EXPECT_GE(grant->items[0].tokens, 2);  // share 10/s, capped to 200 ms
  EXPECT_LE(grant->items[0].tokens, 5);
  EXPECT_EQ(grant->items[0].ttl_ms, options.lease_ttl_ms);
}

TEST_F(LeaseServerTest, MalformedFramesAreAnsweredAndTheServerSurvives) {
  StartServer();
  RawAgent agent(context_, endpoint_);

  agent.SendRaw("this is not json");
  std::optional<ErrorMessage> error = agent.Await<ErrorMessage>();
  ASSERT_TRUE(error.has_value());
  EXPECT_FALSE(error->message.empty());
  EXPECT_EQ(server_->connected_agents(), 0);  // not registered by garbage

  agent.SendRaw(R"({"type": "no_such_type"})");
  ASSERT_TRUE(agent.Await<ErrorMessage>().has_value());

  agent.SendFrames({"", EncodeWireMessage(Hello{})});  // REQ-style envelope
  error = agent.Await<ErrorMessage>();
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->message.find("one frame"), std::string::npos)
      << error->message;

  RulesSnapshot wrong_direction;
  agent.Send(wrong_direction);
  ASSERT_TRUE(agent.Await<ErrorMessage>().has_value());

  Hello future;
  future.agent_id = "from-the-future";
  future.protocol = kProtocolVersion + 1;
  agent.Send(future);
  error = agent.Await<ErrorMessage>();
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->message.find("protocol"), std::string::npos)
      << error->message;

  EXPECT_TRUE(agent.Connect().has_value());
  EXPECT_TRUE(server_->running());
  EXPECT_EQ(MetricValue(registry_, "sluice_controller_wire_errors_total"), 5);
}

// An agent of another protocol version (docs/deployment.md, "Upgrades"):
// the version before this one (protocol 1 is the first, so the decoder
// refuses 0 outright), or a Hello without the field, is refused with a
// message naming the protocol and the version it sent, never served rules
// it may misread.
TEST_F(LeaseServerTest, RefusesAnAgentOfAnotherProtocolVersionClearly) {
  StartServer();
  RawAgent agent(context_, endpoint_);
  const std::string previous = std::to_string(kProtocolVersion - 1);
  agent.SendRaw(R"({"type": "hello", "agent_id": "old", "rules_version": 0,
                    "protocol": )" +
                previous + "}");
  std::optional<ErrorMessage> error = agent.Await<ErrorMessage>();
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->message.find("protocol"), std::string::npos)
      << error->message;
  EXPECT_NE(error->message.find(previous), std::string::npos) << error->message;
  agent.SendRaw(
      R"({"type": "hello", "agent_id": "older", "rules_version": 0})");
  error = agent.Await<ErrorMessage>();
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->message.find("protocol"), std::string::npos)
      << error->message;
  EXPECT_EQ(server_->connected_agents(), 0);
  // The same connection then speaking this version is served.
  EXPECT_TRUE(agent.Connect().has_value());
  EXPECT_EQ(server_->connected_agents(), 1);
}

TEST_F(LeaseServerTest, ForgetsSilentAgents) {
  LeaseServerOptions options;
  options.agent_timeout_ms = 1000;
  StartServer(options);
  RawAgent agent(context_, endpoint_);
  ASSERT_TRUE(agent.Connect().has_value());
  ASSERT_EQ(server_->connected_agents(), 1);

  clock_.AdvanceMillis(1001);
  EXPECT_TRUE(Eventually([&] { return server_->connected_agents() == 0; }));
  EXPECT_EQ(MetricValue(registry_, "sluice_controller_agents_connected"), 0);

  // Coming back: known again, and re-synced.
  Heartbeat heartbeat;
  agent.Send(heartbeat);
  ASSERT_TRUE(agent.Await<RulesSnapshot>().has_value());
  EXPECT_EQ(server_->connected_agents(), 1);
}

TEST_F(LeaseServerTest, ForgetsAgentsWhoseConnectionClosed) {
  StartServer();
  {
    RawAgent agent(context_, endpoint_);
    ASSERT_TRUE(agent.Connect().has_value());
    ASSERT_EQ(server_->connected_agents(), 1);
  }
  // The next push to it fails: forgotten without waiting for the timeout.
  EXPECT_TRUE(Eventually([&] {
    catalog_.Upsert(catalog_.version() + 1, MakeRule(5, 1, 1, 1));
    return server_->connected_agents() == 0;
  }));
}

TEST_F(LeaseServerTest, RefusesAnEndpointInUse) {
  StartServer();
  LeaseServerOptions options;
  options.endpoint = endpoint_;
  LeaseServer second(options, &catalog_, &clock_, nullptr);
  Status started = second.Start();
  EXPECT_EQ(started.code(), Status::Code::kUnavailable);
  EXPECT_NE(started.message().find(endpoint_), std::string::npos)
      << started.message();
  EXPECT_FALSE(second.running());
}

TEST_F(LeaseServerTest, RestartsOnTheSamePort) {
  StartServer();
  server_->Stop();
  EXPECT_FALSE(server_->running());
  Status restarted = server_->Start();
  ASSERT_TRUE(restarted.ok()) << restarted.ToString();
  RawAgent agent(context_, endpoint_);
  EXPECT_TRUE(agent.Connect().has_value());
}

}  // namespace
}  // namespace sluice
