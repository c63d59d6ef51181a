#include "common/wire_usage.h"

#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "common/usage.h"
#include "common/wire.h"

namespace sluice {
namespace {

UsageReport SampleReport() {
  UsageReport m;
  m.agent_id = "web-1:4242";
  m.incarnation = 77;
  m.seq = 3;
  m.sent_ms = 1'800'000'123'456;
  m.version = "0.9.0";
  m.rules_version = 12;
  m.buckets = 40;
  m.leases = 7;
  m.counts.push_back(UsageCounts{7, 1'800'000'100'000 - 40'000, 5, 2, 1});
  HeavyHitters hh(4);
  hh.Add(UsageClientKey({"42"}), 10, 3);
  hh.Add(UsageClientKey({"7"}), 4, 0);
  m.summaries.push_back(
      ToUsageSummary(7, 1'800'000'060'000, UsageRanking::kRefused, hh));
  return m;
}

TEST(WireUsageTest, ReportRoundTrips) {
  const UsageReport m = SampleReport();
  StatusOr<WireMessage> decoded = DecodeWireMessage(EncodeWireMessage(m));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  const auto* back = std::get_if<UsageReport>(&*decoded);
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(back->agent_id, m.agent_id);
  EXPECT_EQ(back->incarnation, 77u);
  EXPECT_EQ(back->seq, 3u);
  EXPECT_EQ(back->sent_ms, m.sent_ms);
  EXPECT_EQ(back->version, "0.9.0");
  EXPECT_EQ(back->rules_version, 12);
  EXPECT_EQ(back->buckets, 40);
  EXPECT_EQ(back->leases, 7);
  ASSERT_EQ(back->counts.size(), 1u);
  EXPECT_EQ(back->counts[0].allowed, 5);
  EXPECT_EQ(back->counts[0].refused, 2);
  EXPECT_EQ(back->counts[0].shadow_refused, 1);
  ASSERT_EQ(back->summaries.size(), 1u);
  HeavyHitters hh(1);
  ASSERT_TRUE(FromUsageSummary(back->summaries[0], &hh));
  std::vector<HeavyHitter> top = hh.Top(1);
  ASSERT_EQ(top.size(), 1u);
  EXPECT_EQ(top[0].key, "[\"42\"]");
  EXPECT_EQ(top[0].count, 10);
  EXPECT_EQ(top[0].other, 3);
  EXPECT_EQ(hh.total(), 14);
}

TEST(WireUsageTest, AckRoundTrips) {
  StatusOr<WireMessage> decoded =
      DecodeWireMessage(EncodeWireMessage(UsageAck{5, 9}));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  const auto* ack = std::get_if<UsageAck>(&*decoded);
  ASSERT_NE(ack, nullptr);
  EXPECT_EQ(ack->incarnation, 5u);
  EXPECT_EQ(ack->seq, 9u);
}

TEST(WireUsageTest, RefusesBadShapesNamingThePlace) {
  struct Case {
    std::string bytes;
    std::string expected;
  };
  const Case cases[] = {
      {R"({"type":"usage_ack","incarnation":0,"seq":1})",
       "usage_ack.incarnation"},
      {R"({"type":"usage_report","agent_id":"a","incarnation":1,"seq":1,)"
       R"("sent_ms":0,"version":"v","rules_version":0,"buckets":0,)"
       R"("leases":0,"counts":[[7,61000,1,0,0]],"summaries":[]})",
       "usage_report.counts[0]"},
      {R"({"type":"usage_report","agent_id":"a","incarnation":1,"seq":1,)"
       R"("sent_ms":0,"version":"v","rules_version":0,"buckets":0,)"
       R"("leases":0,"counts":[],"summaries":[{"rule_id":1,"minute_ms":0,)"
       R"("by":"most","capacity":1,"floor":0,"total":0,"entries":[]}]})",
       "usage_report.summaries[0].by"},
      {R"({"type":"usage_report","agent_id":"a","incarnation":1,"seq":1,)"
       R"("sent_ms":0,"version":"v","rules_version":0,"buckets":0,)"
       R"("leases":0,"counts":[],"summaries":[{"rule_id":1,"minute_ms":0,)"
       R"("by":"allowed","capacity":1,"floor":0,"total":0,"entries":[[1]]}]})",
       "usage_report.summaries[0].entries[0]"},
  };
  for (const Case& c : cases) {
    StatusOr<WireMessage> decoded = DecodeWireMessage(c.bytes);
    ASSERT_FALSE(decoded.ok()) << c.bytes;
    EXPECT_NE(decoded.status().message().find(c.expected), std::string::npos)
        << decoded.status().message();
  }
}

TEST(WireUsageTest, CorruptSummaryDecodesButIsRefusedByFromParts) {
  UsageReport m = SampleReport();
  m.summaries[0].entries.push_back(m.summaries[0].entries[0]);  // duplicate
  StatusOr<WireMessage> decoded = DecodeWireMessage(EncodeWireMessage(m));
  ASSERT_TRUE(decoded.ok());
  HeavyHitters hh(1);
  EXPECT_FALSE(
      FromUsageSummary(std::get<UsageReport>(*decoded).summaries[0], &hh));
  UsageSummary huge = m.summaries[0];
  huge.entries.pop_back();
  huge.capacity = kMaxUsageSummaryCapacity + 1;
  EXPECT_FALSE(FromUsageSummary(huge, &hh));
}

TEST(UsageTest, MinutesHoursAndKeys) {
  EXPECT_EQ(MinuteStart(119'999), 60'000);
  EXPECT_EQ(MinuteStart(-1), -60'000);
  EXPECT_EQ(HourStart(3'600'000 * 5 + 7), 3'600'000 * 5);
  std::vector<std::string> values;
  ASSERT_TRUE(ParseUsageClientKey(UsageClientKey({"a\"b", "42"}), &values));
  EXPECT_EQ(values, (std::vector<std::string>{"a\"b", "42"}));
  EXPECT_FALSE(ParseUsageClientKey("[1]", &values));
  EXPECT_FALSE(ParseUsageClientKey("{", &values));
  UsageRanking by;
  EXPECT_TRUE(ParseUsageRanking("allowed", &by));
  EXPECT_EQ(by, UsageRanking::kAllowed);
  EXPECT_FALSE(ParseUsageRanking("both", &by));
}

}  // namespace
}  // namespace sluice
