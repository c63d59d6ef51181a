// LeaseLedger without sockets, on a manual clock: agents coming and going
// (and their demand with them), idle budgets dropped, the sweep's slices
// and the counts it publishes.
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "controller/lease/lease_ledger.h"
#include "tests/controller/lease/ledger_test_support.h"

namespace sluice {
namespace {

using testing::LedgerHarness;
using testing::LedgerRule;
using testing::Line;

TEST(LeaseLedgerAgentsTest, HelloRegistersWithWeightAndChecksTheProtocol) {
  LedgerHarness h;
  Hello future;
  future.agent_id = "from-the-future";
  future.protocol = kProtocolVersion + 1;
  StatusOr<Arrival> refused = h.ledger().OnHello("p", future, h.now(), "");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("protocol"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(h.ledger().counts().agents, 0);

  Hello hello;
  hello.agent_id = "web-1";
  StatusOr<Arrival> first = h.ledger().OnHello("p", hello, h.now(), "key");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, Arrival::kNew);
  EXPECT_EQ(*h.ledger().OnHello("p", hello, h.now(), "key"), Arrival::kKnown);
  const AgentRecord* agent = h.ledger().agents().Find("p");
  ASSERT_NE(agent, nullptr);
  EXPECT_EQ(agent->agent_id, "web-1");
  EXPECT_EQ(agent->curve_key, "key");
  EXPECT_EQ(agent->weight, 1.0);
  EXPECT_EQ(h.ledger().counts().agents, 1);
}

TEST(LeaseLedgerAgentsTest, AnyMessageRegistersAnUnknownAgentOnce) {
  LedgerHarness h;
  EXPECT_EQ(h.Seen("p"), Arrival::kNew);
  EXPECT_EQ(h.Seen("p"), Arrival::kKnown);
  TickOutcome tick = h.ledger().Tick(h.now());
  EXPECT_TRUE(tick.agent_count_changed);  // tell every agent, once
  EXPECT_TRUE(tick.forgotten.empty());
  EXPECT_FALSE(h.ledger().Tick(h.now()).agent_count_changed);
  std::vector<std::string> peers;
  h.ledger().AppendPeers(&peers);
  EXPECT_EQ(peers, std::vector<std::string>{"p"});
}

TEST(LeaseLedgerAgentsTest, AnAgentForgottenAndBackStartsAfresh) {
  LedgerHarness h;
  h.Connect("p", "web-1");
  const uint64_t before = h.NumberOf("p");
  std::string agent_id;
  EXPECT_TRUE(h.ledger().Forget("p", h.now(), &agent_id));
  EXPECT_EQ(agent_id, "web-1");
  EXPECT_FALSE(h.ledger().Forget("p", h.now(), &agent_id));
  EXPECT_EQ(h.Seen("p"), Arrival::kNew);
  EXPECT_NE(h.NumberOf("p"), before);
  EXPECT_EQ(h.ledger().agents().Find("p")->agent_id, "");
}

struct SilenceCase {
  int64_t silent_ms;
  bool forgotten;
};

std::string CaseName(const SilenceCase& c) {
  return "Silent" + std::to_string(c.silent_ms) + "ms";
}

void PrintTo(const SilenceCase& c, std::ostream* os) { *os << CaseName(c); }

class SilentAgentTest : public ::testing::TestWithParam<SilenceCase> {};

// Two hungry agents share a bucket; "goes" then falls silent while "stays"
// keeps heartbeating. Past the timeout (1 s here), "goes" is forgotten at
// the next Tick, with its demand and share in the bucket.
TEST_P(SilentAgentTest, IsForgottenPastTheTimeoutWithItsDemand) {
  LeaseLedgerOptions options;
  options.agent_timeout_ms = 1000;
  LedgerHarness h(options);
  h.Connect("stays");
  h.Connect("goes", "goes-id");
  ASSERT_GE(h.Tokens("stays", Line(1, {"a"}, 100, 0, 50)), 0);
  ASSERT_GE(h.Tokens("goes", Line(1, {"a"}, 100, 0, 50)), 0);
  const uint64_t goes = h.NumberOf("goes");
  Budget* budget = h.ledger().FindBudget(1, {"a"});
  ASSERT_NE(budget, nullptr);
  ASSERT_EQ(budget->allocator.agent_count(), 2u);
  EXPECT_GT(budget->allocator.DemandRate(goes, h.now()), 0);
  h.ledger().Tick(h.now());  // takes the "agents changed" of the Hellos

  h.clock().AdvanceMillis(GetParam().silent_ms);
  h.Seen("stays");
  TickOutcome tick = h.ledger().Tick(h.now());
  if (!GetParam().forgotten) {
    EXPECT_TRUE(tick.forgotten.empty());
    EXPECT_FALSE(tick.agent_count_changed);
    EXPECT_EQ(h.ledger().counts().agents, 2);
    return;
  }
  ASSERT_EQ(tick.forgotten.size(), 1u);
  EXPECT_EQ(tick.forgotten[0].peer, "goes");
  EXPECT_EQ(tick.forgotten[0].agent_id, "goes-id");
  EXPECT_TRUE(tick.agent_count_changed);
  EXPECT_EQ(h.ledger().counts().agents, 1);
  EXPECT_EQ(h.ledger().agents().Find("goes"), nullptr);
  EXPECT_EQ(budget->allocator.agent_count(), 1u);
  EXPECT_EQ(budget->allocator.DemandRate(goes, h.now()), 0);
  EXPECT_EQ(budget->allocator.ShareRate(goes), 0);
  // Counted at once, not at the next pass.
  EXPECT_EQ(h.ledger().counts().buckets, 1);
  EXPECT_EQ(h.ledger().counts().bucket_agents, 1);
}

INSTANTIATE_TEST_SUITE_P(Ledger, SilentAgentTest,
                         ::testing::Values(SilenceCase{999, false},
                                           SilenceCase{1000, false},
                                           SilenceCase{1001, true},
                                           SilenceCase{4000, true}),
                         [](const ::testing::TestParamInfo<SilenceCase>& info) {
                           return CaseName(info.param);
                         });

// 300 budgets asked for once, and one ("kept") asked for every 200 ms,
// with a Tick at each step. A bucket forgets an agent silent there for 5 s
// (its leases expired at 2 s, the budget refilled long before); the budget
// is then indistinguishable from a fresh one and the sweep drops it.
TEST(LeaseLedgerSweepTest, IdleBudgetsGoAfterFiveSecondsAndOneInUseStays) {
  LeaseLedgerOptions options;
  options.agent_timeout_ms = 600'000;  // the agent stays; its buckets go
  LedgerHarness h(options);
  h.Connect("agent");
  std::vector<LeaseWant> lines;
  for (int i = 0; i < 300; ++i) {
    lines.push_back(Line(1, {"c" + std::to_string(i)}, 5, 1));
  }
  ASSERT_EQ(h.Lease("agent", lines).items.size(), 300u);
  int steps = 0;
  auto step = [&] {
    h.clock().AdvanceMillis(200);
    ++steps;
    ASSERT_GE(h.Tokens("agent", Line(1, {"kept"}, 1, 1)), 0);
    h.ledger().Tick(h.now());
  };
  while (steps < 20) step();  // 4 s: not yet
  EXPECT_EQ(h.ledger().budget_count(), 301u);
  EXPECT_EQ(h.ledger().counts().buckets, 301);  // as the last pass saw
  EXPECT_EQ(h.ledger().counts().bucket_agents, 301);
  while (h.ledger().budget_count() != 1 && steps < 100) step();
  EXPECT_GE(steps, 25);  // not before 5 s
  // Within a pass from then: 10 slices of 21 positions per step; 1024
  // positions, and each erasure takes a visit of its own (the position is
  // looked at again: a later budget may have moved there).
  EXPECT_LE(steps, 25 + (1024 + 300 + 209) / 210);
  EXPECT_NE(h.ledger().FindBudget(1, {"kept"}), nullptr);
  for (int i = 0; i < 6; ++i) step();  // a pass ends: published
  EXPECT_EQ(h.ledger().counts().buckets, 1);
  EXPECT_EQ(h.ledger().counts().bucket_agents, 1);
}

// The sweep visits 1/50 of the table per 20 ms: the 300 budgets that all
// become idle at once go a slice at a time, over about one pass (1 s), and
// a late call catches up (by at most a pass).
class LedgerSweepSliceTest : public ::testing::Test {
 protected:
  // 300 budgets in 1024 positions: a slice is 21 positions (visits).
  static constexpr size_t kSlice = (1024 + 49) / 50;

  void SetUp() override {
    h_.Connect("agent");
    std::vector<LeaseWant> lines;
    for (int i = 0; i < 300; ++i) {
      lines.push_back(Line(1, {"c" + std::to_string(i)}, 5, 1));
    }
    h_.Lease("agent", lines);
    h_.ledger().Forget("agent", h_.now(), nullptr);  // leases lapse at 2 s
    ASSERT_EQ(h_.ledger().budget_count(), 300u);
    // Sweeping on schedule up to just before the 5 s of quiet.
    for (int t = 20; t < 5000; t += 20) Sweep(20);
    ASSERT_EQ(h_.ledger().budget_count(), 300u);
  }
  void Sweep(int64_t advance_ms) {
    h_.clock().AdvanceMillis(advance_ms);
    h_.ledger().SweepIfDue(h_.now());
  }

  LedgerHarness h_;
};

TEST_F(LedgerSweepSliceTest, OneSlicePerIntervalOverAboutOnePass) {
  size_t left = h_.ledger().budget_count();
  int calls = 0, calls_that_dropped = 0;
  while (left > 0 && calls < 200) {
    Sweep(20);
    ++calls;
    const size_t now_left = h_.ledger().budget_count();
    EXPECT_LE(left - now_left, kSlice) << "call " << calls;
    if (now_left < left) ++calls_that_dropped;
    left = now_left;
  }
  EXPECT_EQ(left, 0u);
  // A pass: 1024 visits, plus one per erasure (the position is looked at
  // again).
  EXPECT_LE(calls, static_cast<int>((1024 + 300 + kSlice - 1) / kSlice));
  EXPECT_GE(calls_that_dropped, static_cast<int>(300 / kSlice));
}

TEST_F(LedgerSweepSliceTest, NothingBeforeItIsDueAndALateCallCatchesUp) {
  h_.clock().AdvanceMillis(100);
  h_.ledger().SweepIfDue(h_.now());  // 5 slices due
  const size_t left = h_.ledger().budget_count();
  EXPECT_LT(left, 300u);
  EXPECT_GE(left, 300u - 5 * kSlice);
  h_.clock().AdvanceMillis(19);  // not due yet (20 ms after the last)
  h_.ledger().SweepIfDue(h_.now());
  EXPECT_EQ(h_.ledger().budget_count(), left);
  // 10 s late: it catches up, far more than one slice at once.
  h_.clock().AdvanceMillis(10'000);
  h_.ledger().SweepIfDue(h_.now());
  EXPECT_LT(h_.ledger().budget_count() + 10 * kSlice, left);
  h_.clock().AdvanceMillis(1000);
  h_.ledger().SweepIfDue(h_.now());
  EXPECT_EQ(h_.ledger().budget_count(), 0u);
}

}  // namespace
}  // namespace sluice
