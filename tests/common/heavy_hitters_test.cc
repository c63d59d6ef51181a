// HeavyHitters (Space-Saving): exact while it fits, the three guarantees of
// the header on skewed streams, merges, and rebuilding from parts.
#include "common/heavy_hitters.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace sluice {
namespace {

struct Step {
  const char* key;
  int64_t weight;
};

std::map<std::string, int64_t> Counts(const HeavyHitters& summary) {
  std::map<std::string, int64_t> counts;
  for (const HeavyHitter& entry : summary.entries()) {
    counts[entry.key] = entry.count;
  }
  return counts;
}

TEST(HeavyHittersTest, ExactWhileTheKeysFit) {
  HeavyHitters summary(3);
  for (Step step : {Step{"a", 5}, Step{"b", 2}, Step{"a", 1}, Step{"c", 7}}) {
    summary.Add(step.key, step.weight);
  }
  EXPECT_EQ(Counts(summary),
            (std::map<std::string, int64_t>{{"a", 6}, {"b", 2}, {"c", 7}}));
  EXPECT_EQ(summary.floor(), 0);
  EXPECT_EQ(summary.total(), 15);
  std::vector<HeavyHitter> top = summary.Top(2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].key, "c");
  EXPECT_EQ(top[1].key, "a");
  EXPECT_EQ(top[0].error, 0);
}

TEST(HeavyHittersTest, ANewKeyReplacesTheLightestAndInheritsItsCount) {
  // Table: the stream, then what the summary of capacity 2 holds.
  HeavyHitters summary(2);
  summary.Add("a", 10);
  summary.Add("b", 3);
  summary.Add("c", 1);  // replaces b (3): count 4, error 3
  EXPECT_EQ(Counts(summary),
            (std::map<std::string, int64_t>{{"a", 10}, {"c", 4}}));
  EXPECT_EQ(summary.floor(), 3);
  std::vector<HeavyHitter> top = summary.Top(2);
  EXPECT_EQ(top[1].error, 3);
  summary.Add("d", 2);  // replaces c (4): count 6, error 4
  EXPECT_EQ(Counts(summary),
            (std::map<std::string, int64_t>{{"a", 10}, {"d", 6}}));
  EXPECT_EQ(summary.floor(), 4);
}

TEST(HeavyHittersTest, NonPositiveWeightsAreIgnored) {
  HeavyHitters summary(2);
  summary.Add("a", 0);
  summary.Add("b", -3);
  EXPECT_EQ(summary.size(), 0u);
  EXPECT_EQ(summary.total(), 0);
}

TEST(HeavyHittersTest, TheOtherWeightIsALowerBound) {
  HeavyHitters summary(1);
  summary.Add("a", 5, 2);
  summary.AddOther("a", 3);
  summary.AddOther("zz", 9);  // not monitored: not started
  EXPECT_EQ(summary.Top(1)[0].other, 5);
  EXPECT_EQ(summary.size(), 1u);
  summary.Add("b", 6, 1);  // replaces a: its other starts afresh
  EXPECT_EQ(summary.Top(1)[0].other, 1);
}

// A Zipf(s) stream over `keys` keys of `events` events, deterministic.
std::vector<int> ZipfStream(int keys, double s, int events, uint32_t seed) {
  std::vector<double> cumulative(keys);
  double sum = 0;
  for (int i = 0; i < keys; ++i) {
    sum += 1.0 / std::pow(i + 1, s);
    cumulative[i] = sum;
  }
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uniform(0, sum);
  std::vector<int> stream(events);
  for (int& key : stream) {
    key = static_cast<int>(
        std::lower_bound(cumulative.begin(), cumulative.end(), uniform(rng)) -
        cumulative.begin());
  }
  return stream;
}

// Checks the header's guarantees 1-3 of `summary` against `truth`.
void ExpectGuarantees(const HeavyHitters& summary,
                      const std::map<std::string, int64_t>& truth,
                      int64_t total, double bound_fraction) {
  std::map<std::string, int64_t> listed;
  for (const HeavyHitter& entry : summary.entries()) {
    const int64_t real = truth.count(entry.key) ? truth.at(entry.key) : 0;
    EXPECT_GE(entry.count, real) << entry.key;
    EXPECT_LE(entry.count - entry.error, real) << entry.key;
    EXPECT_LE(entry.error, summary.floor()) << entry.key;
    listed[entry.key] = entry.count;
  }
  for (const auto& [key, real] : truth) {
    if (!listed.count(key)) {
      EXPECT_LE(real, summary.floor()) << key;
    }
  }
  EXPECT_EQ(summary.total(), total);
  EXPECT_LE(static_cast<double>(summary.floor()), bound_fraction * total);
}

TEST(HeavyHittersTest, GuaranteesHoldOnAZipfStream) {
  const int kCapacity = 100;
  HeavyHitters summary(kCapacity);
  std::map<std::string, int64_t> truth;
  for (int key : ZipfStream(10000, 1.1, 200000, 7)) {
    const std::string name = "client-" + std::to_string(key);
    summary.Add(name, 1);
    ++truth[name];
  }
  ExpectGuarantees(summary, truth, 200000, 1.0 / kCapacity);
  // The ten heaviest come out in their true order.
  std::vector<HeavyHitter> top = summary.Top(10);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(top[i].key, "client-" + std::to_string(i)) << i;
  }
}

TEST(HeavyHittersTest, MergingIntoTheSumOfCapacitiesKeepsTheBound) {
  // Two agents see two halves of one stream; the controller merges them
  // into a summary with room for both.
  const int kCapacity = 64;
  HeavyHitters first(kCapacity);
  HeavyHitters second(kCapacity);
  HeavyHitters merged(2 * kCapacity);
  std::map<std::string, int64_t> truth;
  std::vector<int> stream = ZipfStream(5000, 1.2, 100000, 11);
  for (size_t i = 0; i < stream.size(); ++i) {
    const std::string name = std::to_string(stream[i]);
    (i % 2 == 0 ? first : second).Add(name, 3);
    truth[name] += 3;
  }
  merged.Merge(first);
  merged.Merge(second);
  ExpectGuarantees(merged, truth, 300000, 1.0 / kCapacity);
  std::vector<HeavyHitter> top = merged.Top(5);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(top[i].key, std::to_string(i)) << i;
}

TEST(HeavyHittersTest, MergingIntoASmallSummaryRaisesTheFloorHonestly) {
  HeavyHitters a(2);
  HeavyHitters b(2);
  a.Add("x", 10);
  a.Add("y", 5);
  b.Add("z", 7);
  b.Add("w", 1);
  HeavyHitters merged(2);
  merged.Merge(a);
  merged.Merge(b);
  // Both inputs were exact (floor 0); two keys had to go: y (5) and w (1).
  EXPECT_EQ(Counts(merged),
            (std::map<std::string, int64_t>{{"x", 10}, {"z", 7}}));
  EXPECT_EQ(merged.floor(), 5);
  EXPECT_EQ(merged.total(), 23);
}

TEST(HeavyHittersTest, AKeyListedInOneSummaryOnlyGetsTheOthersFloor) {
  HeavyHitters a(1);
  a.Add("x", 4);
  a.Add("y", 1);  // y: count 5, error 4; floor 4
  HeavyHitters b(4);
  b.Add("x", 2);  // exact
  HeavyHitters merged(8);
  merged.Merge(a);
  merged.Merge(b);
  std::map<std::string, HeavyHitter> by_key;
  for (const HeavyHitter& entry : merged.entries()) by_key[entry.key] = entry;
  // x: not listed in a (at most a's floor, 4) plus 2 from b.
  EXPECT_EQ(by_key["x"].count, 6);
  EXPECT_EQ(by_key["x"].error, 4);
  // y: 5 (error 4) from a, not in b (floor 0).
  EXPECT_EQ(by_key["y"].count, 5);
  EXPECT_EQ(by_key["y"].error, 4);
  EXPECT_EQ(merged.floor(), 4);
}

TEST(HeavyHittersTest, FromPartsRefusesWhatIsNotASummary) {
  struct Case {
    const char* what;
    size_t capacity;
    std::vector<HeavyHitter> entries;
    int64_t floor;
    int64_t total;
    bool valid;
  };
  const std::vector<Case> cases = {
      {"valid", 2, {{"a", 3, 1, 0}, {"b", 2, 0, 5}}, 1, 5, true},
      {"empty", 2, {}, 0, 0, true},
      {"zero capacity", 0, {}, 0, 0, false},
      {"too many", 1, {{"a", 3, 0, 0}, {"b", 2, 0, 0}}, 0, 5, false},
      {"duplicate", 2, {{"a", 3, 0, 0}, {"a", 2, 0, 0}}, 0, 5, false},
      {"error above count", 2, {{"a", 3, 4, 0}}, 0, 5, false},
      {"zero count", 2, {{"a", 0, 0, 0}}, 0, 5, false},
      {"negative other", 2, {{"a", 3, 0, -1}}, 0, 5, false},
      {"lower bound above total", 2, {{"a", 9, 0, 0}}, 0, 5, false},
      {"negative floor", 2, {}, -1, 0, false},
  };
  for (const Case& c : cases) {
    HeavyHitters out(1);
    out.Add("untouched", 1);
    const bool ok =
        HeavyHitters::FromParts(c.capacity, c.entries, c.floor, c.total, &out);
    EXPECT_EQ(ok, c.valid) << c.what;
    if (!c.valid) {
      EXPECT_EQ(out.Top(1)[0].key, "untouched") << c.what;
    }
    if (ok) {
      EXPECT_EQ(out.total(), c.total) << c.what;
      EXPECT_EQ(out.size(), c.entries.size()) << c.what;
    }
  }
}

TEST(HeavyHittersTest, ARebuiltSummaryKeepsCounting) {
  HeavyHitters out(1);
  ASSERT_TRUE(
      HeavyHitters::FromParts(2, {{"a", 3, 0, 0}, {"b", 5, 0, 0}}, 0, 8, &out));
  out.Add("c", 1);  // replaces a (the lightest, 3)
  std::vector<HeavyHitter> top = out.Top(2);
  EXPECT_EQ(top[0].key, "b");
  EXPECT_EQ(top[1].key, "c");
  EXPECT_EQ(top[1].count, 4);
  EXPECT_EQ(top[1].error, 3);
}

}  // namespace
}  // namespace sluice
