#include "controller/lease/budget_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>

#include "common/bucket_key.h"
#include "tests/common/test_rule.h"

namespace sluice {
namespace {

const AllocatorOptions kOptions;

// A budget whose rule_version tells which key it was made for.
Budget MakeBudget(int64_t tag) {
  static const Rule rule = testing_rules::MakeRule(1, "api", {}, 10, 1000, 10);
  return Budget{BucketAllocator(rule, 0, &kOptions), tag, 0, 0};
}

std::string Key(int i) { return "bucket-key-" + std::to_string(i); }

Budget* Find(BudgetTable& table, const std::string& key) {
  return table.Find(key, BudgetTable::Hash(key));
}

TEST(BudgetTableTest, FindsWhatWasInsertedAndNothingElse) {
  BudgetTable table;
  for (int i = 0; i < 1000; ++i) {
    const std::string key = Key(i);
    ASSERT_EQ(Find(table, key), nullptr);
    Budget* b = table.Insert(key, BudgetTable::Hash(key), MakeBudget(i));
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->rule_version, i);
  }
  EXPECT_EQ(table.size(), 1000u);
  EXPECT_GE(table.capacity(), 2000u);  // at most half full
  for (int i = 0; i < 1000; ++i) {
    Budget* b = Find(table, Key(i));
    ASSERT_NE(b, nullptr) << i;
    EXPECT_EQ(b->rule_version, i);
  }
  EXPECT_EQ(Find(table, "absent"), nullptr);
}

TEST(BudgetTableTest, EntriesDoNotMoveWhenTheTableGrows) {
  BudgetTable table;
  Budget* first =
      table.Insert(Key(0), BudgetTable::Hash(Key(0)), MakeBudget(0));
  for (int i = 1; i < 5000; ++i) {
    table.Insert(Key(i), BudgetTable::Hash(Key(i)), MakeBudget(i));
  }
  EXPECT_EQ(Find(table, Key(0)), first);
}

// Random inserts and erases against std::map: backward-shift deletion must
// keep every remaining key findable (runs that wrap around included).
TEST(BudgetTableTest, MatchesAMapUnderRandomInsertsAndErases) {
  BudgetTable table;
  std::map<std::string, int64_t> model;
  std::mt19937 random(7);
  for (int step = 0; step < 50000; ++step) {
    const int i = static_cast<int>(random() % 3000);
    const std::string key = Key(i);
    const uint64_t hash = BudgetTable::Hash(key);
    if (random() % 2 == 0) {
      if (model.count(key) == 0) {
        table.Insert(key, hash, MakeBudget(step));
        model[key] = step;
      }
    } else {
      table.Erase(key, hash);
      model.erase(key);
    }
  }
  ASSERT_EQ(table.size(), model.size());
  for (int i = 0; i < 3000; ++i) {
    const std::string key = Key(i);
    Budget* b = Find(table, key);
    auto it = model.find(key);
    if (it == model.end()) {
      EXPECT_EQ(b, nullptr) << key;
    } else {
      ASSERT_NE(b, nullptr) << key;
      EXPECT_EQ(b->rule_version, it->second) << key;
    }
  }
}

// A walk over positions that erases some entries (as the lease server's
// sweep does: EraseAt, then the same position again) sees every entry.
TEST(BudgetTableTest, AWalkThatErasesStillVisitsEveryEntry) {
  BudgetTable table;
  for (int i = 0; i < 3000; ++i) {
    table.Insert(Key(i), BudgetTable::Hash(Key(i)), MakeBudget(i));
  }
  std::multiset<int64_t> seen;
  for (size_t p = 0; p < table.capacity();) {
    Budget* b = table.At(p);
    if (b == nullptr) {
      ++p;
      continue;
    }
    seen.insert(b->rule_version);
    EXPECT_EQ(table.KeyAt(p), Key(static_cast<int>(b->rule_version)));
    if (b->rule_version % 3 == 0) {
      table.EraseAt(p);  // a later entry may move here: look again
      continue;
    }
    ++p;
  }
  // Each entry seen at least once; a backward shift across the end of the
  // table may show one that was already seen again, never skip one.
  for (int i = 0; i < 3000; ++i) EXPECT_GE(seen.count(i), 1u) << i;
  EXPECT_EQ(table.size(), 2000u);
  for (int i = 0; i < 3000; ++i) {
    EXPECT_EQ(Find(table, Key(i)) == nullptr, i % 3 == 0) << i;
  }
}

TEST(BudgetTableTest, ForEachVisitsEveryEntryOnce) {
  BudgetTable table;
  for (int i = 0; i < 100; ++i) {
    table.Insert(Key(i), BudgetTable::Hash(Key(i)), MakeBudget(i));
  }
  std::multiset<std::string> keys;
  table.ForEach([&](std::string_view key, Budget& budget) {
    keys.insert(std::string(key));
    EXPECT_EQ(key, Key(static_cast<int>(budget.rule_version)));
  });
  EXPECT_EQ(keys.size(), 100u);
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), 100u);
}

// Memory per budget: one arena block (the budget, then its key) and at most 32
// bytes of slots (8-byte slots, at most half full once grown). The numbers
// are the stated budget of docs/leasing.md ("Memory"): a regression shows
// here, not only in tests/bench/agent_memory.sh.
TEST(BudgetTableTest, ABudgetIsOneBlockAndFewBytesOfSlots) {
  EXPECT_LE(sizeof(Budget), 128u);
  const std::string key = MakeBucketKey(1, {"123456"});  // a per-client key
  EXPECT_EQ(BudgetTable::EntryBytes(key.size()),
            sizeof(Budget) + 4 + key.size());
  EXPECT_LE(BudgetTable::EntryBytes(key.size()), 152u);
  // In the table's arena, rounded up to 8 with no header: 152 bytes (with
  // glibc's malloc, its 8-byte header and 16-byte rounding, 160).
  EXPECT_LE(EntryArena::BlockBytes(BudgetTable::EntryBytes(key.size())), 152u);
  BudgetTable table;
  for (int i = 0; i < 100'000; ++i) {
    table.Insert(Key(i), BudgetTable::Hash(Key(i)), MakeBudget(i));
    if (table.size() > 1000) {
      EXPECT_LE(table.capacity() * 8 / table.size(), 32u) << table.size();
    }
  }
  EXPECT_EQ(Find(table, Key(99'999))->rule_version, 99'999);
}

}  // namespace
}  // namespace sluice
