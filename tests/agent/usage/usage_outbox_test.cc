#include "agent/usage/usage_outbox.h"

#include <gtest/gtest.h>

#include <vector>

namespace sluice {
namespace {

UsageReport Numbered(uint64_t seq) {
  UsageReport report;
  report.agent_id = "a";
  report.incarnation = 3;
  report.seq = seq;
  return report;
}

std::vector<uint64_t> SendAll(UsageOutbox* outbox, int64_t now) {
  std::vector<uint64_t> sent;
  outbox->SendDue(now, [&](const UsageReport& r) {
    sent.push_back(r.seq);
    return true;
  });
  return sent;
}

TEST(UsageOutboxTest, SendsAtOnceThenAgainUntilAcknowledged) {
  UsageOutbox outbox(10, /*resend_ns=*/100);
  outbox.Add(Numbered(1));
  outbox.Add(Numbered(2));
  EXPECT_EQ(SendAll(&outbox, 0), (std::vector<uint64_t>{1, 2}));
  EXPECT_TRUE(SendAll(&outbox, 99).empty());
  outbox.Ack(3, 1);
  outbox.Ack(4, 2);  // another incarnation: not this one
  EXPECT_EQ(SendAll(&outbox, 100), (std::vector<uint64_t>{2}));
  outbox.Ack(3, 2);
  EXPECT_EQ(outbox.size(), 0u);
  EXPECT_TRUE(SendAll(&outbox, 1000).empty());
}

TEST(UsageOutboxTest, AFailedSendKeepsTheRestForLater) {
  UsageOutbox outbox(10, 100);
  outbox.Add(Numbered(1));
  outbox.Add(Numbered(2));
  int calls = 0;
  outbox.SendDue(0, [&](const UsageReport&) { return ++calls > 1; });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(SendAll(&outbox, 1), (std::vector<uint64_t>{1, 2}));
}

TEST(UsageOutboxTest, PastTheBoundTheOldestIsDroppedAndCounted) {
  UsageOutbox outbox(2, 100);
  for (uint64_t seq = 1; seq <= 5; ++seq) outbox.Add(Numbered(seq));
  EXPECT_EQ(outbox.size(), 2u);
  EXPECT_EQ(outbox.dropped(), 3);
  EXPECT_EQ(SendAll(&outbox, 0), (std::vector<uint64_t>{4, 5}));
}

}  // namespace
}  // namespace sluice
