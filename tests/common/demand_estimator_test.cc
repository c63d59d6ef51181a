#include "common/demand_estimator.h"

#include <gtest/gtest.h>

#include <cmath>

#include "common/clock.h"

namespace sluice {
namespace {

constexpr int64_t kMs = kNanosPerMilli;
// Tokens per nanosecond from tokens per second.
constexpr double PerSecond(double tokens) { return tokens / 1e9; }

TEST(DemandEstimatorTest, NothingReportedIsNoDemand) {
  DemandTiming timing;
  DemandEstimator d;
  EXPECT_FALSE(d.has_report());
  EXPECT_EQ(d.Rate(timing, 5 * kMs, 0), 0);
}

TEST(DemandEstimatorTest, FirstReportCoversTheAssumedWindow) {
  DemandTiming timing;  // first window 100 ms
  DemandEstimator d;
  d.Report(timing, 7 * kMs, 50);
  EXPECT_TRUE(d.has_report());
  EXPECT_EQ(d.last_report(7 * kMs), 7 * kMs);
  EXPECT_NEAR(d.rate() * 1e9, 500, 500e-6);  // a float: 1e-7 relative
}

struct SteadyCase {
  double per_second;    // true demand
  int64_t interval_ms;  // between reports
};

class DemandEstimatorSteadyTest : public ::testing::TestWithParam<SteadyCase> {
};

TEST_P(DemandEstimatorSteadyTest, ConvergesToASteadyDemandWithinASecond) {
  const SteadyCase c = GetParam();
  DemandTiming timing;
  DemandEstimator d;
  int64_t now = 0;
  d.Report(timing, now, 0);
  for (int64_t t = c.interval_ms; t <= 1000; t += c.interval_ms) {
    now = t * kMs;
    d.Report(timing, now,
             static_cast<int64_t>(c.per_second * c.interval_ms / 1000.0));
  }
  EXPECT_NEAR(d.rate() * 1e9, c.per_second, 0.02 * c.per_second + 1);
}

INSTANTIATE_TEST_SUITE_P(Cases, DemandEstimatorSteadyTest,
                         ::testing::Values(SteadyCase{1000, 50},
                                           SteadyCase{1000, 10},
                                           SteadyCase{200, 250},
                                           SteadyCase{20000, 50},
                                           SteadyCase{100, 500}));

TEST(DemandEstimatorTest, RisesFasterThanItFalls) {
  DemandTiming timing;  // rise 100 ms, fall 300 ms
  DemandEstimator up, down;
  up.Report(timing, 0, 0);            // 0/s
  down.Report(timing, 0, 100);        // 1000/s
  up.Report(timing, 100 * kMs, 100);  // 1000/s for 100 ms
  down.Report(timing, 100 * kMs, 0);  // 0/s for 100 ms
  // Up: 1 - e^-1 of the way; down: 1 - e^-(1/3).
  EXPECT_NEAR(up.rate() * 1e9, 1000 * (1 - std::exp(-1.0)), 1e-3);
  EXPECT_NEAR(down.rate() * 1e9, 1000 * std::exp(-1.0 / 3), 1e-3);
}

TEST(DemandEstimatorTest, SilenceDecaysOnlyAfterTheGrace) {
  DemandTiming timing;
  DemandEstimator d;
  d.Report(timing, 0, 100);  // 1000/s
  EXPECT_NEAR(d.Rate(timing, 200 * kMs, 200 * kMs) * 1e9, 1000, 1e-3);
  // 300 ms (one fall time constant) beyond the grace: e^-1 of it is left.
  EXPECT_NEAR(d.Rate(timing, 500 * kMs, 200 * kMs) * 1e9, 1000 * std::exp(-1.0),
              1e-3);
  EXPECT_LT(d.Rate(timing, 3000 * kMs, 200 * kMs) * 1e9, 1);
}

TEST(DemandEstimatorTest, SurvivesBadInput) {
  DemandTiming timing;
  DemandEstimator d;
  d.Report(timing, 100 * kMs, -5);  // negative: nothing
  EXPECT_EQ(d.rate(), 0);
  d.Report(timing, 50 * kMs, 10);  // the clock went back: a 1 µs interval
  EXPECT_TRUE(std::isfinite(d.rate()));
  EXPECT_GT(d.rate(), 0);
  EXPECT_EQ(d.last_report(100 * kMs), 100 * kMs);  // never moves back
  d.Report(timing, 200 * kMs, INT64_MAX);
  EXPECT_TRUE(std::isfinite(d.rate()));
}

// The last report is kept as 32 bits of microseconds: exact to the
// microsecond below, across the wrap of those bits.
TEST(DemandEstimatorTest, TheReportTimeSurvivesTheWrapOfItsStamp) {
  DemandTiming timing;
  const int64_t wrap = (int64_t{1} << 32) * 1000;  // ns
  DemandEstimator d;
  d.Report(timing, wrap - 100 * kMs + 1234, 100);  // 1000/s, 1.234 µs in
  EXPECT_EQ(d.last_report(wrap + 50 * kMs), wrap - 100 * kMs + 1000);
  // 100.0 ms later, across the wrap: a 1000/s report keeps 1000/s.
  d.Report(timing, wrap + 1000, 100);
  EXPECT_NEAR(d.rate() * 1e9, 1000, 1e-2);
  EXPECT_EQ(d.last_report(wrap + 2000), wrap + 1000);
}

// Age() keeps the stamp unambiguous however long the silence: a report a
// day old reads as kMaxAgeMicros old, and its demand as none.
TEST(DemandEstimatorTest, ALongSilenceIsKeptAsTheMaximumAge) {
  DemandTiming timing;
  const int64_t max_age = DemandEstimator::kMaxAgeMicros * 1000;
  DemandEstimator d;
  d.Report(timing, 0, 100);
  const int64_t day = int64_t{86'400} * 1'000'000'000;
  int64_t then = 0;
  for (int64_t t = 60'000 * kMs; t <= day; t += 60'000 * kMs) {
    d.Age(then, t);
    then = t;
  }
  EXPECT_EQ(d.last_report(day), day - max_age);
  EXPECT_EQ(d.Rate(timing, day, 200 * kMs), 0);
  // One Age() across the whole day does the same.
  DemandEstimator e;
  e.Report(timing, 0, 100);
  e.Age(0, day);
  EXPECT_EQ(e.last_report(day), day - max_age);
  // Without Age(), the stamp alone would read the day-old report as about
  // 8 minutes old (a day is 20.1 wraps of 2^32 µs): what Age() is for.
  DemandEstimator f;
  f.Report(timing, 0, 100);
  EXPECT_NE(f.last_report(day), day - max_age);
  // A report after the silence starts the estimate afresh.
  d.Report(timing, day, 1000);
  EXPECT_GT(d.rate(), 0);
  EXPECT_EQ(d.last_report(day), day);
}

}  // namespace
}  // namespace sluice
