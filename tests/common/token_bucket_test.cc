#include "common/token_bucket.h"

#include <gtest/gtest.h>

#include <iterator>

#include "common/clock.h"

namespace sluice {
namespace {

// 10 tokens per second.
constexpr double kRate = 10.0 / kNanosPerSecond;
constexpr int64_t kMs = kNanosPerMilli;

TEST(TokenBucketTest, StartsFull) {
  TokenBucket bucket(5, kRate, 0);
  EXPECT_DOUBLE_EQ(bucket.Available(0), 5);
  EXPECT_EQ(bucket.NanosUntilFull(0), 0);
  EXPECT_DOUBLE_EQ(bucket.capacity(), 5);
  EXPECT_DOUBLE_EQ(bucket.rate_per_nano(), kRate);
}

TEST(TokenBucketTest, TakesUntilEmptyThenRefuses) {
  TokenBucket bucket(3, kRate, 0);
  EXPECT_TRUE(bucket.TryTake(0, 1));
  EXPECT_TRUE(bucket.TryTake(0, 2));
  EXPECT_FALSE(bucket.TryTake(0, 1));
  EXPECT_DOUBLE_EQ(bucket.Available(0), 0);
}

TEST(TokenBucketTest, RefusedTakeTakesNothing) {
  TokenBucket bucket(3, kRate, 0);
  ASSERT_TRUE(bucket.TryTake(0, 2));
  EXPECT_FALSE(bucket.TryTake(0, 2));
  EXPECT_DOUBLE_EQ(bucket.Available(0), 1);
}

TEST(TokenBucketTest, RefillsAtRate) {
  TokenBucket bucket(10, kRate, 0);
  ASSERT_TRUE(bucket.TryTake(0, 10));
  EXPECT_NEAR(bucket.Available(100 * kMs), 1, 1e-9);  // 10/s * 0.1 s
  EXPECT_NEAR(bucket.Available(550 * kMs), 5.5, 1e-9);
  EXPECT_FALSE(bucket.TryTake(550 * kMs, 6));
  EXPECT_TRUE(bucket.TryTake(600 * kMs, 6));
}

TEST(TokenBucketTest, RefillIsCappedAtCapacity) {
  TokenBucket bucket(4, kRate, 0);
  ASSERT_TRUE(bucket.TryTake(0, 4));
  EXPECT_DOUBLE_EQ(bucket.Available(3600 * kNanosPerSecond), 4);
  EXPECT_TRUE(bucket.TryTake(3600 * kNanosPerSecond, 4));
  EXPECT_FALSE(bucket.TryTake(3600 * kNanosPerSecond, 1));
}

TEST(TokenBucketTest, CostLargerThanCapacityIsNeverAvailable) {
  TokenBucket bucket(4, kRate, 0);
  EXPECT_FALSE(bucket.TryTake(0, 5));
  EXPECT_FALSE(bucket.TryTake(1000 * kNanosPerSecond, 5));
  EXPECT_EQ(bucket.NanosUntilAvailable(0, 5), -1);
  EXPECT_DOUBLE_EQ(bucket.Available(0), 4);  // nothing was taken
}

TEST(TokenBucketTest, ZeroCostAlwaysSucceedsAndTakesNothing) {
  TokenBucket bucket(2, kRate, 0);
  ASSERT_TRUE(bucket.TryTake(0, 2));
  EXPECT_TRUE(bucket.TryTake(0, 0));
  EXPECT_DOUBLE_EQ(bucket.Available(0), 0);
  bucket.Debit(0, 2);
  EXPECT_TRUE(bucket.TryTake(0, 0));  // also while in debt
}

TEST(TokenBucketTest, TimeGoingBackwardsNeitherRefillsNorDrains) {
  TokenBucket bucket(10, kRate, 1000 * kMs);
  ASSERT_TRUE(bucket.TryTake(1000 * kMs, 10));
  // The clock jumps back 500 ms: nothing is refilled, nothing drained.
  EXPECT_DOUBLE_EQ(bucket.Available(500 * kMs), 0);
  EXPECT_FALSE(bucket.TryTake(500 * kMs, 1));
  // Back at the last time seen: still nothing.
  EXPECT_DOUBLE_EQ(bucket.Available(1000 * kMs), 0);
  // Moving forward refills from the latest time seen, not from the jump.
  EXPECT_NEAR(bucket.Available(1100 * kMs), 1, 1e-9);
}

TEST(TokenBucketTest, TimeGoingBackwardsDoesNotDrainAFullBucket) {
  TokenBucket bucket(10, kRate, 5 * kNanosPerSecond);
  EXPECT_DOUBLE_EQ(bucket.Available(0), 10);
  EXPECT_TRUE(bucket.TryTake(0, 10));
  // The take at the earlier time counts at the latest time seen.
  EXPECT_NEAR(bucket.Available(5 * kNanosPerSecond + 100 * kMs), 1, 1e-9);
}

TEST(TokenBucketTest, DebitGoesIntoDebtNoDeeperThanCapacity) {
  TokenBucket bucket(10, kRate, 0);
  bucket.Debit(0, 15);
  EXPECT_DOUBLE_EQ(bucket.Available(0), -5);
  EXPECT_FALSE(bucket.TryTake(0, 1));
  bucket.Debit(0, 100);
  EXPECT_DOUBLE_EQ(bucket.Available(0), -10);
  // Debt is paid back by refill: 10 tokens (1 s) to get back to zero.
  EXPECT_NEAR(bucket.Available(kNanosPerSecond), 0, 1e-9);
  EXPECT_EQ(bucket.NanosUntilAvailable(kNanosPerSecond, 1), 100 * kMs);
}

TEST(TokenBucketTest, DebitOfNothingChangesNothing) {
  TokenBucket bucket(10, kRate, 0);
  bucket.Debit(0, 0);
  bucket.Debit(0, -3);
  EXPECT_DOUBLE_EQ(bucket.Available(0), 10);
}

TEST(TokenBucketTest, TakeUpToTakesWholeTokens) {
  TokenBucket bucket(10, kRate, 0);
  EXPECT_DOUBLE_EQ(bucket.TakeUpTo(0, 4), 4);
  EXPECT_DOUBLE_EQ(bucket.TakeUpTo(0, 100), 6);
  EXPECT_DOUBLE_EQ(bucket.TakeUpTo(0, 1), 0);
  // 2.5 tokens refilled: only 2 whole ones are taken.
  EXPECT_DOUBLE_EQ(bucket.TakeUpTo(250 * kMs, 5), 2);
  EXPECT_NEAR(bucket.Available(250 * kMs), 0.5, 1e-9);
  // A fractional want is rounded down.
  EXPECT_DOUBLE_EQ(bucket.TakeUpTo(1000 * kMs, 1.9), 1);
}

TEST(TokenBucketTest, TakeUpToTakesNothingWhileInDebt) {
  TokenBucket bucket(10, kRate, 0);
  bucket.Debit(0, 12);
  EXPECT_DOUBLE_EQ(bucket.TakeUpTo(0, 5), 0);
  EXPECT_DOUBLE_EQ(bucket.Available(0), -2);
  EXPECT_DOUBLE_EQ(bucket.TakeUpTo(0, 0), 0);
  EXPECT_DOUBLE_EQ(bucket.TakeUpTo(0, -1), 0);
}

TEST(TokenBucketTest, NanosUntilAvailable) {
  TokenBucket bucket(10, kRate, 0);
  EXPECT_EQ(bucket.NanosUntilAvailable(0, 10), 0);
  ASSERT_TRUE(bucket.TryTake(0, 10));
  EXPECT_EQ(bucket.NanosUntilAvailable(0, 1), 100 * kMs);
  EXPECT_EQ(bucket.NanosUntilAvailable(0, 3), 300 * kMs);
  EXPECT_EQ(bucket.NanosUntilAvailable(50 * kMs, 1), 50 * kMs);
  EXPECT_EQ(bucket.NanosUntilAvailable(0, 11), -1);
  EXPECT_EQ(bucket.NanosUntilFull(50 * kMs), 950 * kMs);
}

TEST(TokenBucketTest, ZeroRateNeverRefills) {
  TokenBucket bucket(5, 0, 0);
  ASSERT_TRUE(bucket.TryTake(0, 5));
  EXPECT_EQ(bucket.NanosUntilAvailable(0, 1), -1);
  EXPECT_DOUBLE_EQ(bucket.Available(1000 * kNanosPerSecond), 0);
}

TEST(TokenBucketTest, DefaultBucketIsEmptyAndInert) {
  TokenBucket bucket;
  EXPECT_FALSE(bucket.TryTake(0, 1));
  EXPECT_TRUE(bucket.TryTake(0, 0));
  EXPECT_DOUBLE_EQ(bucket.Available(kNanosPerSecond), 0);
}

TEST(TokenBucketTest, ManySmallRefillsAddUpExactly) {
  // 100 tokens/s taken one per 10 ms for 10 s: every take must succeed, even
  // though each refill of exactly one token is computed in floating point.
  TokenBucket bucket(1, 100.0 / kNanosPerSecond, 0);
  ManualClock clock;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(bucket.TryTake(clock.NowNanos(), 1)) << "take " << i;
    clock.AdvanceMillis(10);
  }
}

TEST(TokenBucketTest, ReconfigureClampsTokensToTheNewCapacity) {
  TokenBucket bucket(10, kRate, 0);
  bucket.Reconfigure(4, kRate, 0);
  EXPECT_DOUBLE_EQ(bucket.capacity(), 4);
  EXPECT_DOUBLE_EQ(bucket.Available(0), 4);
}

TEST(TokenBucketTest, ReconfigureKeepsTokensAndChangesRate) {
  TokenBucket bucket(10, kRate, 0);
  ASSERT_TRUE(bucket.TryTake(0, 8));  // 2 left
  // Refill at the old rate up to the reconfiguration: 2 + 1 = 3.
  bucket.Reconfigure(20, 2 * kRate, 100 * kMs);
  EXPECT_NEAR(bucket.Available(100 * kMs), 3, 1e-9);
  // Then at the new rate: 20/s for 0.5 s.
  EXPECT_NEAR(bucket.Available(600 * kMs), 13, 1e-9);
  EXPECT_NEAR(bucket.Available(10 * kNanosPerSecond), 20, 1e-9);
}

TEST(TokenBucketTest, ReconfigureClampsDebtToTheNewCapacity) {
  TokenBucket bucket(10, kRate, 0);
  bucket.Debit(0, 20);
  bucket.Reconfigure(3, kRate, 0);
  EXPECT_DOUBLE_EQ(bucket.Available(0), -3);
}

// --- TokenBucketState: the same bucket, its shape passed in ---

TEST(TokenBucketStateTest, IsSixteenBytes) {
  EXPECT_EQ(sizeof(TokenBucketState), 16u);
}

// Drain takes what is there, fractions too, never below zero, and leaves
// a debt as it is (the agent drains its safe share by what leases admit).
TEST(TokenBucketStateTest, DrainStopsAtZeroAndLeavesADebt) {
  const TokenBucketShape shape{10, kRate};
  TokenBucketState state(shape, 0);
  state.Drain(shape, 0, 2.5);
  EXPECT_DOUBLE_EQ(state.Available(shape, 0), 7.5);
  state.Drain(shape, 0, 100);
  EXPECT_DOUBLE_EQ(state.Available(shape, 0), 0);
  state.Debit(shape, 0, 4);  // a debt
  state.Drain(shape, 0, 1);
  EXPECT_DOUBLE_EQ(state.Available(shape, 0), -4);
  state.Drain(shape, 0, -3);  // nothing
  EXPECT_DOUBLE_EQ(state.Available(shape, 0), -4);
}

TEST(TokenBucketStateTest, FollowsTheSameMathsAsTokenBucket) {
  const TokenBucketShape shape{10, kRate};
  TokenBucketState state(shape, 0);
  TokenBucket bucket(10, kRate, 0);
  // The same operations on both, at the same times, give the same answers.
  const int64_t times[] = {0,         0,         150 * kMs,
                           150 * kMs, 700 * kMs, 2 * 1000 * kMs};
  const double costs[] = {4, 7, 1.5, 3, 0, 9};
  for (size_t i = 0; i < std::size(times); ++i) {
    EXPECT_EQ(state.TryTake(shape, times[i], costs[i]),
              bucket.TryTake(times[i], costs[i]))
        << i;
    EXPECT_DOUBLE_EQ(state.Available(shape, times[i]),
                     bucket.Available(times[i]));
    EXPECT_EQ(state.NanosUntilAvailable(shape, times[i], 6),
              bucket.NanosUntilAvailable(times[i], 6));
    EXPECT_EQ(state.NanosUntilFull(shape, times[i]),
              bucket.NanosUntilFull(times[i]));
  }
  state.Debit(shape, 3000 * kMs, 25);
  bucket.Debit(3000 * kMs, 25);
  EXPECT_DOUBLE_EQ(state.Available(shape, 3000 * kMs), -10);
  EXPECT_DOUBLE_EQ(state.Available(shape, 3000 * kMs),
                   bucket.Available(3000 * kMs));
  EXPECT_EQ(state.TakeUpTo(shape, 6000 * kMs, 50),
            bucket.TakeUpTo(6000 * kMs, 50));
}

TEST(TokenBucketStateTest, StartsFullOrEmpty) {
  const TokenBucketShape shape{5, kRate};
  TokenBucketState full(shape, 0);
  EXPECT_DOUBLE_EQ(full.Available(shape, 0), 5);
  TokenBucketState empty;
  EXPECT_DOUBLE_EQ(empty.Available(shape, 0), 0);
  EXPECT_NEAR(empty.Available(shape, 200 * kMs), 2, 1e-9);
}

TEST(TokenBucketStateTest, ReshapeRefillsUnderTheOldShapeThenClamps) {
  const TokenBucketShape before{10, kRate};
  const TokenBucketShape after{4, 2 * kRate};
  TokenBucketState state(before, 0);
  ASSERT_TRUE(state.TryTake(before, 0, 9));  // 1 left
  // 100 ms at 10/s: 2 tokens, kept under the new shape.
  state.Reshape(before, after, 100 * kMs);
  EXPECT_NEAR(state.Available(after, 100 * kMs), 2, 1e-9);
  // Then 20/s, capped at the new capacity.
  EXPECT_NEAR(state.Available(after, 150 * kMs), 3, 1e-9);
  EXPECT_NEAR(state.Available(after, 10 * kNanosPerSecond), 4, 1e-9);
  // A full bucket reshaped smaller is full of the smaller capacity.
  TokenBucketState big(before, 0);
  big.Reshape(before, after, 0);
  EXPECT_EQ(big.NanosUntilFull(after, 0), 0);
  // Debt is clamped to the new capacity too.
  big.Debit(after, 0, 100);
  EXPECT_DOUBLE_EQ(big.Available(after, 0), -4);
}

}  // namespace
}  // namespace sluice
