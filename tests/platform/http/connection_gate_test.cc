#include "platform/http/connection_gate.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace sluice {
namespace {

using Verdict = ConnectionGate::Verdict;

TEST(ConnectionGateTest, CapsEachClientAndTheTotal) {
  ConnectionGate gate(/*max_total=*/5, /*max_per_client=*/2);
  std::vector<ConnectionGate::Ticket> held(6);
  EXPECT_EQ(gate.Admit("a", &held[0]), Verdict::kAdmitted);
  EXPECT_EQ(gate.Admit("a", &held[1]), Verdict::kAdmitted);
  ConnectionGate::Ticket refused;
  EXPECT_EQ(gate.Admit("a", &refused), Verdict::kTooManyFromClient);
  EXPECT_FALSE(refused.held());
  EXPECT_EQ(gate.Admit("b", &held[2]), Verdict::kAdmitted);
  EXPECT_EQ(gate.Admit("b", &held[3]), Verdict::kAdmitted);
  EXPECT_EQ(gate.Admit("c", &held[4]), Verdict::kAdmitted);
  EXPECT_EQ(gate.Admit("d", &refused), Verdict::kTooManyInAll);
  EXPECT_EQ(gate.open(), 5u);
  EXPECT_EQ(gate.open_from("a"), 2u);
}

TEST(ConnectionGateTest, TicketsGiveTheirPlaceBackOnce) {
  ConnectionGate gate(2, 1);
  {
    ConnectionGate::Ticket first;
    ASSERT_EQ(gate.Admit("a", &first), Verdict::kAdmitted);
    ConnectionGate::Ticket moved(std::move(first));
    EXPECT_FALSE(first.held());  // NOLINT(bugprone-use-after-move)
    EXPECT_TRUE(moved.held());
    ConnectionGate::Ticket assigned;
    assigned = std::move(moved);
    EXPECT_EQ(gate.open_from("a"), 1u);
  }
  EXPECT_EQ(gate.open(), 0u);
  EXPECT_EQ(gate.open_from("a"), 0u);
  ConnectionGate::Ticket again;
  EXPECT_EQ(gate.Admit("a", &again), Verdict::kAdmitted);
}

}  // namespace
}  // namespace sluice
