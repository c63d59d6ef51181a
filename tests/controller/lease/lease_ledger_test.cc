// LeaseLedger without sockets, on a manual clock: what is granted, to one
// agent and to several, during and after the learning period, and what a
// rule change does to the budgets. (Agents' expiry and the sweep:
// lease_ledger_sweep_test.cc.)
#include "controller/lease/lease_ledger.h"

#include <gtest/gtest.h>

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "tests/controller/lease/ledger_test_support.h"

namespace sluice {
namespace {

using testing::LedgerHarness;
using testing::LedgerRule;
using testing::Line;

// --- One agent: a scenario is a table of steps -------------------------

struct GrantStep {
  int64_t advance_ms;  // before the request
  LeaseWant line;
  int64_t tokens;  // expected
  int64_t ttl_ms;  // expected
  const char* why;
};

struct GrantScenario {
  const char* name;
  int64_t lease_ttl_ms;
  int64_t learning_ms;
  std::vector<GrantStep> steps;
};

// Names the case in test output (not its bytes).
void PrintTo(const GrantScenario& scenario, std::ostream* os) {
  *os << scenario.name;
}

class GrantScenarioTest : public ::testing::TestWithParam<GrantScenario> {};

TEST_P(GrantScenarioTest, GrantsAsTheTableSays) {
  const GrantScenario& scenario = GetParam();
  LeaseLedgerOptions options;
  options.lease_ttl_ms = scenario.lease_ttl_ms;
  options.learning_ms = scenario.learning_ms;
  LedgerHarness h(options);
  h.Connect("agent");
  uint64_t seq = 0;
  int64_t granted = 0;
  for (const GrantStep& step : scenario.steps) {
    SCOPED_TRACE(step.why);
    h.clock().AdvanceMillis(step.advance_ms);
    LeaseGrant grant = h.Lease("agent", {step.line}, ++seq);
    EXPECT_EQ(grant.seq, seq);
    ASSERT_EQ(grant.items.size(), 1u);
    EXPECT_EQ(grant.items[0].rule_id, step.line.rule_id);
    EXPECT_EQ(grant.items[0].values, step.line.values);
    EXPECT_EQ(grant.items[0].tokens, step.tokens);
    EXPECT_EQ(grant.items[0].ttl_ms, step.ttl_ms);
    granted += grant.items[0].tokens;
  }
  EXPECT_EQ(h.ledger().counts().lease_requests,
            static_cast<int64_t>(scenario.steps.size()));
  EXPECT_EQ(h.ledger().counts().tokens_granted, granted);
}

INSTANTIATE_TEST_SUITE_P(
    Ledger, GrantScenarioTest,
    ::testing::Values(
        GrantScenario{
            "BurstThenRefillAtRate",
            1500,
            0,
            {{0, Line(1, {"a"}, 100), 20, 1500, "the burst, not the 100"},
             {0, Line(1, {"a"}, 100, 20), 0, 1500, "spent at once: none left"},
             {0, Line(1, {"b"}, 7), 7, 1500, "another value, another bucket"},
             {500, Line(1, {"a"}, 100), 5, 1500, "10/s for 0.5 s"},
             {1000, Line(1, {"a"}, 100, 9, 0, 4), 6, 1500,
              "10 more, 4 of them spent without a lease"},
             {100'000, Line(1, {"a"}, 100, 6), 20, 1500, "never over burst"}}},
        GrantScenario{"UnspentLeasesHoldBackTheRefillUntilTheyExpire",
                      1000,
                      0,
                      {{0, Line(1, {"a"}, 100), 20, 1000, "the burst"},
                       {900, Line(1, {"a"}, 100), 0, 1000,
                        "the 20 may still be admitted: no room for refill"},
                       {600, Line(1, {"a"}, 100), 5, 1000,
                        "expired at 1 s: 10/s since"}}},
        GrantScenario{
            "LearningStartsEmptyAndGivesNoEmptyLeases",
            2000,
            1000,
            {{0, Line(1, {"a"}, 100, 15, 0, 15), 0, 0,
              "starts empty; no tokens: no lease; unleased 15 charged"},
             {999, Line(1, {"a"}, 100), 0, 0,
              "the debt is paid at 10/s; unclaimed refill is not kept"},
             {0, Line(1, {"a"}, 100, 0, 40), 0, 2000,
              "an agent that refuses gets the empty lease"},
             {1, Line(1, {"a"}, 100), 0, 2000,
              "learning over: ordinary leases, empty ones too"},
             {2500, Line(1, {"a"}, 100), 20, 2000,
              "25 accrued, 5 of them paid the debt"}}},
        GrantScenario{
            "LearningGrantsTheShareOfTheRefillSinceTheLastAsk",
            2000,
            10'000,
            {{0, Line(1, {"a"}, 100, 0, 30), 0, 2000, "empty at first"},
             {500, Line(1, {"a"}, 100, 0, 30), 2, 2000,
              "share 10/s, credit capped at 200 ms"},
             {100, Line(1, {"a"}, 100, 2, 30), 1, 2000, "100 ms of share"}}},
        GrantScenario{
            "ABudgetCreatedAfterLearningStartsFull",
            2000,
            1000,
            {{1000, Line(1, {"a"}, 100), 20, 2000, "learning ended: full"}}}),
    [](const ::testing::TestParamInfo<GrantScenario>& info) {
      return std::string(info.param.name);
    });

TEST(LeaseLedgerTest, RulesThatDoNotApplyGetNothing) {
  Rule disabled = LedgerRule(3, 1, 10, 10);
  disabled.enabled = false;
  std::vector<Rule> rules = LedgerHarness::DefaultRules();
  rules.push_back(disabled);
  LedgerHarness h({}, rules);
  h.Connect("agent");
  const struct {
    LeaseWant line;
    int64_t tokens;
  } table[] = {
      {Line(99, {"a"}, 5), 0},      // unknown rule
      {Line(3, {"a"}, 5), 0},       // disabled rule
      {Line(1, {}, 5), 0},          // rule 1 has one wildcard key
      {Line(1, {"a", "b"}, 5), 0},  // ... not two
      {Line(2, {}, 5), 5},          // fits
  };
  std::vector<LeaseWant> lines;
  for (const auto& row : table) lines.push_back(row.line);
  LeaseGrant grant = h.Lease("agent", lines);
  ASSERT_EQ(grant.items.size(), std::size(table));
  for (size_t i = 0; i < std::size(table); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(grant.items[i].rule_id, table[i].line.rule_id);
    EXPECT_EQ(grant.items[i].values, table[i].line.values);
    EXPECT_EQ(grant.items[i].tokens, table[i].tokens);
  }
  EXPECT_EQ(h.ledger().budget_count(), 1u);  // only rule 2's
}

// An item that wants nothing is a report (a bucket the agent decides
// locally): its use is charged, and it is answered with no item.
TEST(LeaseLedgerTest, AReportIsChargedAndAnsweredWithNoItem) {
  LedgerHarness h;
  h.Connect("agent");
  LeaseGrant grant = h.Lease(
      "agent", {Line(1, {"a"}, 0, 15, 0, 15), Line(1, {"b"}, 100),
                Line(1, {"c"}, 0, 3, 0, 3), Line(99, {"d"}, 0, 1, 0, 1)});
  // Not even the report of an unknown rule gets an item.
  ASSERT_EQ(grant.items.size(), 1u);
  EXPECT_EQ(grant.items[0].values, std::vector<std::string>{"b"});
  EXPECT_EQ(grant.items[0].tokens, 20);  // the burst
  EXPECT_EQ(h.ledger().counts().lease_reports, 3);
  EXPECT_EQ(h.ledger().counts().lease_requests, 1);
  EXPECT_EQ(h.ledger().budget_count(), 3u);
  // The 15 admitted locally are gone from a's budget.
  grant = h.Lease("agent", {Line(1, {"a"}, 100)});
  ASSERT_EQ(grant.items.size(), 1u);
  EXPECT_EQ(grant.items[0].tokens, 5);
}

TEST(LeaseLedgerTest, AnUnknownAgentGetsNoAnswer) {
  LedgerHarness h;
  LeaseRequest request;
  request.items = {Line(1, {"a"}, 5)};
  LeaseGrant grant;
  grant.seq = 77;
  EXPECT_FALSE(h.ledger().OnLeaseRequest("stranger", request, h.now(), &grant));
  EXPECT_EQ(grant.seq, 77u);  // untouched
  EXPECT_EQ(h.ledger().counts().lease_requests, 0);
  EXPECT_EQ(h.ledger().budget_count(), 0u);
}

// --- Several agents ---------------------------------------------------

struct SharingCase {
  const char* name;
  std::vector<std::string> agents;
  std::map<std::string, double> weights;
  std::vector<int64_t> expected;  // tokens in the last second, each
  int64_t tolerance;
};

void PrintTo(const SharingCase& c, std::ostream* os) { *os << c.name; }

class SharingTest : public ::testing::TestWithParam<SharingCase> {};

// Agents all wanting more than the limit (1000/s, burst 300), asking every
// 50 ms and spending what they get, split the rate by weight.
TEST_P(SharingTest, HungryAgentsSplitTheRateByWeight) {
  const SharingCase& c = GetParam();
  LeaseLedgerOptions options;
  options.agent_weights = c.weights;
  LedgerHarness h(options, {LedgerRule(9, 1, 1000, 300, {{"route", "/hot"}})});
  for (const std::string& agent : c.agents) h.Connect(agent);
  std::vector<int64_t> last(c.agents.size(), 0), got(c.agents.size(), 0);
  for (uint64_t round = 1; round <= 40; ++round) {
    h.clock().AdvanceMillis(50);
    for (size_t a = 0; a < c.agents.size(); ++a) {
      last[a] = h.Tokens(c.agents[a], Line(9, {}, 1000, last[a], 100));
      ASSERT_GE(last[a], 0);
      if (round > 20) got[a] += last[a];
    }
  }
  int64_t total = 0;
  for (size_t a = 0; a < c.agents.size(); ++a) {
    EXPECT_NEAR(got[a], c.expected[a], c.tolerance) << c.agents[a];
    total += got[a];
  }
  EXPECT_LE(total, 1000 + 5);
}

INSTANTIATE_TEST_SUITE_P(
    Ledger, SharingTest,
    ::testing::Values(
        SharingCase{"TwoEqual", {"a", "b"}, {}, {500, 500}, 30},
        SharingCase{"ThreeEqual", {"a", "b", "c"}, {}, {333, 333, 333}, 30},
        SharingCase{"OneWeighsThree",
                    {"light", "heavy"},
                    {{"heavy", 3.0}},
                    {250, 750},
                    40},
        SharingCase{"ANonPositiveWeightCountsAsOne",
                    {"a", "b"},
                    {{"b", -2.0}},
                    {500, 500},
                    30}),
    [](const ::testing::TestParamInfo<SharingCase>& info) {
      return std::string(info.param.name);
    });

// Restarted under load: budgets start empty, so two hungry agents get
// only fair shares of the refill (100/s between them), never the burst.
TEST(LeaseLedgerTest, LearningSharesTheRefillFairlyAndMintsNoBurst) {
  LeaseLedgerOptions options;
  options.learning_ms = 10'000;
  LedgerHarness h(options, {LedgerRule(9, 1, 100, 100, {{"route", "/hot"}})});
  h.Connect("a");
  h.Connect("b");
  int64_t last_a = 0, last_b = 0, got_a = 0, got_b = 0;
  for (int round = 1; round <= 40; ++round) {
    h.clock().AdvanceMillis(50);
    last_a = h.Tokens("a", Line(9, {}, 100, last_a, 50));
    last_b = h.Tokens("b", Line(9, {}, 100, last_b, 50));
    got_a += last_a;
    got_b += last_b;
  }
  EXPECT_TRUE(h.ledger().learning(h.now()));
  EXPECT_LE(got_a + got_b, 100 * 2);  // 2 s of refill, no burst
  EXPECT_GE(got_a + got_b, 100 * 2 * 8 / 10);
  EXPECT_NEAR(got_a, got_b, 10);
}

// --- Rule changes -----------------------------------------------------

TEST(LeaseLedgerTest, AChangedRuleReconfiguresItsBudget) {
  LedgerHarness h;
  h.Connect("agent");
  EXPECT_EQ(h.Tokens("agent", Line(1, {"a"}, 100)), 20);

  std::vector<Rule> rules = LedgerHarness::DefaultRules();
  rules[0] = LedgerRule(1, 2, 1, 3);  // 1/s, burst 3
  RulesDelta delta = h.ledger().OnCatalogChange(4, rules, h.now());
  EXPECT_EQ(delta.base_version, 3);
  EXPECT_EQ(delta.version, 4);
  ASSERT_EQ(delta.upserts.size(), 1u);
  EXPECT_EQ(delta.upserts[0], rules[0]);
  EXPECT_TRUE(delta.deletes.empty());
  EXPECT_EQ(h.ledger().rules_version(), 4);
  Budget* budget = h.ledger().FindBudget(1, {"a"});
  ASSERT_NE(budget, nullptr);
  EXPECT_EQ(budget->allocator.burst(), 3);
  EXPECT_EQ(budget->rule_version, 2);

  // A report of the 20 spent (want 0): answered with no item.
  EXPECT_EQ(h.Tokens("agent", Line(1, {"a"}, 0, 20)), -1);
  h.clock().AdvanceMillis(2000);
  EXPECT_EQ(h.Tokens("agent", Line(1, {"a"}, 100)), 2);
  h.clock().AdvanceMillis(60'000);
  EXPECT_EQ(h.Tokens("agent", Line(1, {"a"}, 100, 2)), 3);
}

struct DropCase {
  const char* name;
  bool disable;  // else remove
};

void PrintTo(const DropCase& c, std::ostream* os) { *os << c.name; }

class RuleDropTest : public ::testing::TestWithParam<DropCase> {};

TEST_P(RuleDropTest, DropsTheBudgetsOfItsRuleOnly) {
  LedgerHarness h;
  h.Connect("agent");
  h.Lease("agent", {Line(1, {"a"}, 5), Line(1, {"b"}, 5), Line(2, {}, 5)});
  ASSERT_EQ(h.ledger().budget_count(), 3u);

  std::vector<Rule> rules = LedgerHarness::DefaultRules();
  if (GetParam().disable) {
    rules[0].version = 2;
    rules[0].enabled = false;
  } else {
    rules.erase(rules.begin());
  }
  RulesDelta delta = h.ledger().OnCatalogChange(4, rules, h.now());
  if (GetParam().disable) {
    ASSERT_EQ(delta.upserts.size(), 1u);
    EXPECT_FALSE(delta.upserts[0].enabled);
    EXPECT_TRUE(delta.deletes.empty());
  } else {
    EXPECT_TRUE(delta.upserts.empty());
    EXPECT_EQ(delta.deletes, std::vector<int64_t>{1});
  }
  EXPECT_EQ(h.ledger().budget_count(), 1u);
  EXPECT_EQ(h.ledger().FindBudget(1, {"a"}), nullptr);
  EXPECT_EQ(h.ledger().FindBudget(1, {"b"}), nullptr);
  EXPECT_NE(h.ledger().FindBudget(2, {}), nullptr);
  // Grants stop at once.
  EXPECT_EQ(h.Tokens("agent", Line(1, {"a"}, 5)), 0);
  EXPECT_EQ(h.ledger().budget_count(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Ledger, RuleDropTest,
                         ::testing::Values(DropCase{"Removed", false},
                                           DropCase{"Disabled", true}),
                         [](const ::testing::TestParamInfo<DropCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(LeaseLedgerTest, SnapshotsAndHeartbeatsCarryTheRulesAndAgentCount) {
  LedgerHarness h;
  h.Connect("a");
  h.Connect("b");
  RulesSnapshot snapshot = h.ledger().Snapshot();
  EXPECT_EQ(snapshot.version, 3);
  EXPECT_EQ(snapshot.agents, 2);
  EXPECT_EQ(snapshot.rules, LedgerHarness::DefaultRules());
  h.ledger().OnCatalogChange(4, {LedgerRule(7, 1, 1, 1)}, h.now());
  Heartbeat beat = h.ledger().HeartbeatReply();
  EXPECT_EQ(beat.rules_version, 4);
  EXPECT_EQ(beat.agents, 2);
  EXPECT_EQ(h.ledger().Snapshot().rules.size(), 1u);
}

}  // namespace
}  // namespace sluice
