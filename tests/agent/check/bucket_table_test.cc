#include "agent/check/bucket_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/bucket_key.h"
#include "tests/agent/allocation_counter.h"

namespace sluice {
namespace {

Rule TestRule(int64_t id = 1, int64_t burst = 10) {
  Rule rule;
  rule.id = id;
  rule.version = 1;
  rule.name = "r" + std::to_string(id);
  rule.domain = "api";
  rule.match = {{"client_id", "*"}};
  rule.limit = burst;
  rule.period_ms = 1000;
  rule.burst = burst;
  return rule;
}

std::string Key(int64_t rule_id, const std::string& value) {
  return MakeBucketKey(rule_id, {value});
}

class BucketTableTest : public ::testing::Test {
 protected:
  BucketTable::Handle Create(BucketTable* table, const std::string& key,
                             bool* created = nullptr) {
    return table->FindOrCreate(key, rule_, 0, ctx_, created);
  }

  void Churn(size_t max_buckets);

  Rule rule_ = TestRule();
  LeaseContext ctx_;
};

TEST_F(BucketTableTest, CreatesOnceThenFinds) {
  BucketTable table(100);
  bool created = false;
  const std::string key = Key(1, "42");
  BucketTable::Handle h = Create(&table, key, &created);
  ASSERT_NE(h, BucketTable::kNone);
  EXPECT_TRUE(created);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.key(h), key);
  EXPECT_EQ(table.Find(key), h);
  EXPECT_EQ(Create(&table, key, &created), h);
  EXPECT_FALSE(created);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.Find(Key(1, "43")), BucketTable::kNone);
  EXPECT_EQ(table.Find(Key(2, "42")), BucketTable::kNone);
}

TEST_F(BucketTableTest, NewBucketStartsFromTheRulesSafeShare) {
  BucketTable table(10);
  BucketTable::Handle h = Create(&table, Key(1, "a"));
  Decision d;
  EXPECT_TRUE(table.bucket(h).CanTake(rule_, 0, 10, ctx_, &d));
  EXPECT_FALSE(table.bucket(h).CanTake(rule_, 0, 11, ctx_, &d));
}

TEST_F(BucketTableTest, LongKeysLiveOutOfLine) {
  BucketTable table(10);
  const std::string short_key = Key(1, std::string(12, 's'));  // 24 bytes
  const std::string long_key = Key(1, std::string(300, 'l'));
  ASSERT_EQ(short_key.size(), BucketTable::kInlineKeyBytes);
  const size_t empty_memory = table.MemoryBytes();
  BucketTable::Handle a = Create(&table, short_key);
  const size_t inline_memory = table.MemoryBytes();
  BucketTable::Handle b = Create(&table, long_key);
  EXPECT_EQ(table.key(a), short_key);
  EXPECT_EQ(table.key(b), long_key);
  EXPECT_EQ(table.Find(long_key), b);
  EXPECT_GT(inline_memory, empty_memory);
  EXPECT_EQ(table.MemoryBytes(), inline_memory + long_key.size());
}

TEST_F(BucketTableTest, RefusesNewBucketsAtTheCap) {
  BucketTable table(3);
  for (int i = 0; i < 3; ++i) {
    ASSERT_NE(Create(&table, Key(1, std::to_string(i))), BucketTable::kNone);
  }
  EXPECT_TRUE(table.full());
  EXPECT_EQ(Create(&table, Key(1, "new")), BucketTable::kNone);
  // Known buckets are still found and "created".
  EXPECT_NE(Create(&table, Key(1, "1")), BucketTable::kNone);
  // Room again after a removal.
  table.Remove(table.Find(Key(1, "0")));
  EXPECT_NE(Create(&table, Key(1, "new")), BucketTable::kNone);
  EXPECT_EQ(table.size(), 3u);
}

TEST_F(BucketTableTest, RemoveMovesTheLastBucketIntoTheHole) {
  BucketTable table(10);
  BucketTable::Handle a = Create(&table, Key(1, "a"));
  Create(&table, Key(1, "b"));
  BucketTable::Handle c = Create(&table, Key(1, "c"));
  table.flags(c) = 7;
  Decision d;
  table.bucket(c).Take(rule_, 0, 4, ctx_, &d);  // c has 6 left
  table.Remove(a);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.Find(Key(1, "a")), BucketTable::kNone);
  EXPECT_EQ(table.Find(Key(1, "c")), a);  // moved into a's handle
  EXPECT_EQ(table.flags(a), 7u);
  EXPECT_TRUE(table.bucket(a).CanTake(rule_, 0, 6, ctx_, &d));
  EXPECT_FALSE(table.bucket(a).CanTake(rule_, 0, 7, ctx_, &d));
  // Removing the last handle moves nothing.
  table.Remove(static_cast<BucketTable::Handle>(table.size() - 1));
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.Find(Key(1, "b")), BucketTable::kNone);
  EXPECT_EQ(table.Find(Key(1, "c")), a);
}

TEST_F(BucketTableTest, NewBucketHasNoFlags) {
  BucketTable table(10);
  BucketTable::Handle a = Create(&table, Key(1, "a"));
  table.flags(a) = 1;
  table.Remove(a);
  EXPECT_EQ(table.flags(Create(&table, Key(1, "b"))), 0u);
}

TEST_F(BucketTableTest, BucketReferencesSurviveGrowth) {
  BucketTable table(100000);
  BucketTable::Handle first = Create(&table, Key(1, "first"));
  LocalBucket* bucket = &table.bucket(first);
  for (int i = 0; i < 5000; ++i) Create(&table, Key(1, std::to_string(i)));
  EXPECT_EQ(&table.bucket(first), bucket);
}

// A long random sequence of creates, finds and removes, checked against a
// std::map, across growth and shrinking of the index and many pages.
void BucketTableTest::Churn(size_t max_buckets) {
  BucketTable table(max_buckets);
  std::map<std::string, int> reference;  // key -> tag kept in flags
  std::mt19937 rng(7);
  int next_tag = 1;
  for (int step = 0; step < 200000; ++step) {
    // Phases: grow to ~20k, shrink to ~100, grow again.
    const int phase = (step / 50000) % 2;
    const bool remove = phase == 0 ? rng() % 4 == 0 : rng() % 4 != 0;
    const std::string key =
        Key(rng() % 3, std::to_string(rng() % 30000) +
                           (rng() % 5 == 0 ? std::string(40, 'x') : ""));
    if (remove && !reference.empty()) {
      auto it = reference.lower_bound(key);
      if (it == reference.end()) it = reference.begin();
      BucketTable::Handle h = table.Find(it->first);
      ASSERT_NE(h, BucketTable::kNone);
      ASSERT_EQ(table.flags(h), static_cast<uint32_t>(it->second));
      table.Remove(h);
      reference.erase(it);
    } else {
      bool created = false;
      BucketTable::Handle h = Create(&table, key, &created);
      ASSERT_NE(h, BucketTable::kNone);
      ASSERT_EQ(created, reference.count(key) == 0);
      if (created) {
        table.flags(h) = static_cast<uint32_t>(next_tag);
        reference[key] = next_tag++;
      }
    }
    ASSERT_EQ(table.size(), reference.size());
  }
  for (const auto& [key, tag] : reference) {
    BucketTable::Handle h = table.Find(key);
    ASSERT_NE(h, BucketTable::kNone);
    EXPECT_EQ(table.key(h), key);
    EXPECT_EQ(table.flags(h), static_cast<uint32_t>(tag));
  }
  // Every handle holds a distinct, findable key.
  for (size_t i = 0; i < table.size(); ++i) {
    const auto h = static_cast<BucketTable::Handle>(i);
    EXPECT_EQ(table.Find(table.key(h)), h);
  }
}

TEST_F(BucketTableTest, MatchesAReferenceMapUnderChurn) { Churn(1 << 20); }

// At the largest cap, handles fill the index slots: no tag bits are left
// and every probe compares keys.
TEST_F(BucketTableTest, MatchesAReferenceMapUnderChurnWithoutTags) {
  Churn(BucketTable::kMaxBucketsLimit);
}

TEST_F(BucketTableTest, ABucketCostsAboutAHundredBytes) {
  BucketTable table(1 << 20);
  constexpr int kBuckets = 100000;
  for (int i = 0; i < kBuckets; ++i) {
    Create(&table, Key(1, std::to_string(i)));  // inline keys
  }
  // 96-byte entries in whole pages, 4-byte slots at most 3/4 full.
  const double per_bucket = static_cast<double>(table.MemoryBytes()) / kBuckets;
  EXPECT_GT(per_bucket, 96);
  EXPECT_LT(per_bucket, 96 + 4.0 / 0.375 + 1);
}

TEST_F(BucketTableTest, MemoryFollowsTheActiveSet) {
  BucketTable table(1 << 20);
  // (Two spare pages stay: 192 KiB, under a twentieth of 100,000 buckets.)
  for (int i = 0; i < 100000; ++i) Create(&table, Key(1, std::to_string(i)));
  const size_t full = table.MemoryBytes();
  while (table.size() > 100) {
    table.Remove(static_cast<BucketTable::Handle>(table.size() - 1));
  }
  EXPECT_LT(table.MemoryBytes(), full / 20);
}

// The sweep evicts thousands of buckets at once that checks create again
// before the next sweep: pages are kept for that swing, not unmapped and
// mapped again each time.
TEST_F(BucketTableTest, ChurnKeepsItsPages) {
  BucketTable table(1 << 20);
  const int pages = 16;
  const int page = static_cast<int>(BucketTable::kPageEntries);
  int next = 0;
  for (; next < pages * page; ++next) {
    Create(&table, Key(1, std::to_string(next)));
  }
  const size_t full = table.MemoryBytes();
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 2 * page; ++i) {  // two pages' worth evicted...
      table.Remove(static_cast<BucketTable::Handle>(table.size() - 1));
    }
    EXPECT_EQ(table.MemoryBytes(), full) << round;
    for (int i = 0; i < 2 * page; ++i) {  // ...and created again
      Create(&table, Key(1, std::to_string(next++)));
    }
    EXPECT_EQ(table.MemoryBytes(), full) << round;
  }
}

TEST_F(BucketTableTest, ClearEmptiesTheTable) {
  BucketTable table(100);
  Create(&table, Key(1, std::string(100, 'z')));
  Create(&table, Key(1, "a"));
  table.Clear();
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.Find(Key(1, "a")), BucketTable::kNone);
  EXPECT_NE(Create(&table, Key(1, "a")), BucketTable::kNone);
}

TEST_F(BucketTableTest, FindingAKnownBucketDoesNotAllocate) {
  BucketTable table(100000);
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) {
    keys.push_back(Key(1, "client-" + std::to_string(i) +
                              (i % 2 ? std::string(30, 'x') : "")));
    Create(&table, keys.back());
  }
  const int64_t before = testing::ThreadAllocations();
  for (const std::string& key : keys) {
    ASSERT_NE(table.Find(key), BucketTable::kNone);
    ASSERT_NE(Create(&table, key), BucketTable::kNone);
  }
  EXPECT_EQ(testing::ThreadAllocations() - before, 0);
}

}  // namespace
}  // namespace sluice
