#include "controller/store/usage_store.h"

#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <string>

#include "tests/controller/db_fixture.h"

namespace sluice {
namespace {

constexpr int64_t kT0 = 1'800'000'000'000;  // 2027-01-15T08:00:00Z

class UsageStoreTest : public testing::MigratedDatabaseTest {
 protected:
  void SetUp() override {
    MigratedDatabaseTest::SetUp();
    store_ = std::make_unique<UsageStore>(db_.get());
  }

  UsageBatch Batch(int64_t seq, std::vector<UsageCounts> counts) {
    UsageBatch batch;
    batch.agent_id = "web-1";
    batch.incarnation = 5;
    batch.seq = seq;
    batch.received_ms = kT0;
    batch.counts = std::move(counts);
    return batch;
  }

  int64_t Rows(const std::string& table) {
    pqxx::connection conn(test_db_->conninfo());
    pqxx::nontransaction tx(conn);
    return tx.exec("SELECT count(*) FROM " + table)[0][0].as<int64_t>();
  }

  std::unique_ptr<UsageStore> store_;
};

TEST_F(UsageStoreTest, CountsAddUpAndADuplicateIsNotCountedTwice) {
  UsageBatch first = Batch(
      1, {{7, kT0, 10, 2, 1}, {7, kT0 + 60'000, 5, 0, 0}, {8, kT0, 1, 1, 0}});
  ASSERT_EQ(*store_->Record(first), UsageStore::Outcome::kCounted);
  ASSERT_EQ(*store_->Record(first), UsageStore::Outcome::kDuplicate);
  UsageBatch second = Batch(2, {{7, kT0, 3, 0, 4}});
  second.agent_id = "web-2";  // another agent, same sequence number space
  second.seq = 1;
  ASSERT_EQ(*store_->Record(second), UsageStore::Outcome::kCounted);

  StatusOr<std::vector<UsagePoint>> minutes = store_->ReadSeries(
      7, kT0, kT0 + 120'000, 60'000, UsageResolution::kMinute);
  ASSERT_TRUE(minutes.ok()) << minutes.status().ToString();
  ASSERT_EQ(minutes->size(), 2u);
  EXPECT_EQ((*minutes)[0].t_ms, kT0);
  EXPECT_EQ((*minutes)[0].allowed, 13);
  EXPECT_EQ((*minutes)[0].refused, 2);
  EXPECT_EQ((*minutes)[0].shadow_refused, 5);
  EXPECT_EQ((*minutes)[1].allowed, 5);

  // All rules, one step of two minutes.
  StatusOr<std::vector<UsagePoint>> all = store_->ReadSeries(
      0, kT0, kT0 + 120'000, 120'000, UsageResolution::kMinute);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].allowed, 19);
  EXPECT_EQ((*all)[0].refused, 3);

  // The hour rows hold the same totals.
  StatusOr<std::vector<UsagePoint>> hours = store_->ReadSeries(
      7, kT0, kT0 + 3'600'000, 3'600'000, UsageResolution::kHour);
  ASSERT_TRUE(hours.ok());
  ASSERT_EQ(hours->size(), 1u);
  EXPECT_EQ((*hours)[0].allowed, 18);
  EXPECT_EQ((*hours)[0].shadow_refused, 5);
}

TEST_F(UsageStoreTest, TopMergesAgentsAndMinutes) {
  UsageBatch a = Batch(1, {});
  UsageBatch::Top top;
  top.rule_id = 7;
  top.minute_ms = kT0;
  top.by = UsageRanking::kRefused;
  top.summary = HeavyHitters(4);
  top.summary.Add("[\"42\"]", 10, 1);
  top.summary.Add("[\"7\"]", 3, 0);
  a.tops.push_back(top);
  ASSERT_TRUE(store_->Record(a).ok());
  UsageBatch b = Batch(2, {});
  top.minute_ms = kT0 + 60'000;
  top.summary = HeavyHitters(4);
  top.summary.Add("[\"7\"]", 20, 2);
  b.tops.push_back(top);
  ASSERT_TRUE(store_->Record(b).ok());
  ASSERT_EQ(*store_->Record(b), UsageStore::Outcome::kDuplicate);

  HeavyHitters merged(1);
  ASSERT_TRUE(store_
                  ->ReadTop(7, UsageRanking::kRefused, kT0, kT0 + 120'000,
                            UsageResolution::kMinute, &merged)
                  .ok());
  std::vector<HeavyHitter> list = merged.Top(10);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].key, "[\"7\"]");
  EXPECT_EQ(list[0].count, 23);
  EXPECT_EQ(list[0].other, 2);
  EXPECT_EQ(list[1].key, "[\"42\"]");
  EXPECT_EQ(list[1].count, 10);
  EXPECT_EQ(merged.total(), 33);
  // The other ranking holds nothing.
  ASSERT_TRUE(store_
                  ->ReadTop(7, UsageRanking::kAllowed, kT0, kT0 + 120'000,
                            UsageResolution::kMinute, &merged)
                  .ok());
  EXPECT_EQ(merged.size(), 0u);
  // The hour summary has both minutes.
  ASSERT_TRUE(store_
                  ->ReadTop(7, UsageRanking::kRefused, kT0, kT0 + 3'600'000,
                            UsageResolution::kHour, &merged)
                  .ok());
  EXPECT_EQ(merged.Top(1)[0].count, 23);
}

TEST_F(UsageStoreTest, PruneDeletesOnlyWhatIsPastRetentionInBatches) {
  std::vector<UsageCounts> counts;
  for (int i = 0; i < 12; ++i) {
    counts.push_back(UsageCounts{7, kT0 + i * 60'000, 1, 0, 0});
  }
  ASSERT_TRUE(store_->Record(Batch(1, counts)).ok());
  UsageRetention retention;
  retention.minute_ms = 5 * 60'000;  // keeps the last five minutes
  // Batches of two rows, three per call: one call deletes six of the seven.
  StatusOr<int64_t> deleted = store_->Prune(kT0 + 12 * 60'000, retention,
                                            /*max_batches=*/3,
                                            /*batch_rows=*/2);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 6);
  EXPECT_EQ(Rows("usage_minute"), 6);
  deleted = store_->Prune(kT0 + 12 * 60'000, retention, 3, 2);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 1);
  EXPECT_EQ(Rows("usage_minute"), 5);
  EXPECT_EQ(Rows("usage_hour"), 1);
  EXPECT_EQ(Rows("usage_reports"), 1);
}

TEST_F(UsageStoreTest, PruneKeepsTheHeaviestClientsForTheirOwnRetentions) {
  // Summaries every 30 minutes over 48 hours: 96 minute rows, 48 hour rows.
  constexpr int kHalfHours = 96;
  for (int i = 0; i < kHalfHours; ++i) {
    UsageBatch batch = Batch(i + 1, {});
    UsageBatch::Top top;
    top.rule_id = 7;
    top.minute_ms = kT0 + i * 1'800'000LL;
    top.by = UsageRanking::kAllowed;
    top.summary = HeavyHitters(4);
    top.summary.Add("[\"42\"]", 1, 0);
    batch.tops.push_back(top);
    ASSERT_TRUE(store_->Record(batch).ok());
  }
  ASSERT_EQ(Rows("usage_top_minute"), kHalfHours);
  ASSERT_EQ(Rows("usage_top_hour"), kHalfHours / 2);
  const int64_t now = kT0 + kHalfHours * 1'800'000LL;  // 48 h after kT0
  UsageRetention retention;  // counts: the defaults, nothing to prune
  retention.top_minute_ms = 3 * 3'600'000LL;  // the last 3 hours
  retention.top_hour_ms = 86'400'000LL;       // the last day
  StatusOr<int64_t> deleted = store_->Prune(now, retention);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  // Minute rows at now - 3 h and later stay (t >= cut): 6 of them.
  EXPECT_EQ(Rows("usage_top_minute"), 6);
  // Hour rows at now - 24 h and later: 24.
  EXPECT_EQ(Rows("usage_top_hour"), 24);
  EXPECT_EQ(*deleted, (kHalfHours - 6) + (kHalfHours / 2 - 24));
  // What is left is what the reads find.
  HeavyHitters merged(1);
  ASSERT_TRUE(store_
                  ->ReadTop(7, UsageRanking::kAllowed, kT0, now,
                            UsageResolution::kMinute, &merged)
                  .ok());
  EXPECT_EQ(merged.total(), 6);
  ASSERT_TRUE(store_
                  ->ReadTop(7, UsageRanking::kAllowed, kT0, now,
                            UsageResolution::kHour, &merged)
                  .ok());
  EXPECT_EQ(merged.total(), 48);
  // The defaults (6 h, 7 days) would have kept 12 and all 48.
}

TEST_F(UsageStoreTest, UnreachableDatabaseIsUnavailable) {
  Database down("host=127.0.0.1 port=1 connect_timeout=1");
  UsageStore store(&down);
  StatusOr<UsageStore::Outcome> outcome = store.Record(Batch(1, {}));
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), Status::Code::kUnavailable);
}

}  // namespace
}  // namespace sluice
