#include "common/local_bucket.h"

#include <gtest/gtest.h>

#include "common/clock.h"
#include "tests/common/test_rule.h"
#include "tests/common/test_timing.h"

namespace sluice {
namespace {

using testing_rules::MakeRule;
using testing_timing::LeaseEveryBucket;

constexpr int64_t kMs = kNanosPerMilli;
constexpr int64_t kSec = kNanosPerSecond;

// 10 tokens per second, burst 20.
Rule TestRule(FailureMode failure_mode = FailureMode::kLocal) {
  Rule rule = MakeRule(1, "api", {{"client_id", "*"}}, 10, 1000, 20);
  rule.failure_mode = failure_mode;
  return rule;
}

LeaseContext Reachable(int64_t agents = 2) {
  return LeaseContext{true, agents};
}
LeaseContext Unreachable(int64_t agents = 2) {
  return LeaseContext{false, agents};
}

struct Counters {
  int64_t admitted = 0, refused = 0, unleased = 0;
};

Counters Report(LocalBucket* bucket, int64_t now) {
  Counters c;
  bucket->MarkRequested(now, &c.admitted, &c.refused, &c.unleased);
  return c;
}

// CanTake, then Take when allowed (as the agent does), else CountRefused.
Decision Check(LocalBucket* bucket, const Rule& rule, int64_t now, int64_t cost,
               const LeaseContext& ctx) {
  Decision d;
  if (bucket->CanTake(rule, now, cost, ctx, &d)) {
    bucket->Take(rule, now, cost, ctx, &d);
  } else {
    bucket->CountRefused(cost);
  }
  return d;
}

// --- Safe share ---

TEST(LocalBucketTest, ColdBucketAnswersFromTheSafeShare) {
  Rule rule = TestRule();
  LocalBucket bucket(rule, 0, Reachable(2));  // share: 10 tokens, 5/s
  Decision d;
  ASSERT_TRUE(bucket.CanTake(rule, 0, 1, Reachable(2), &d));
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.limit, 10);
  EXPECT_EQ(d.remaining, 10);
  EXPECT_EQ(d.reset_after_ms, 0);
  EXPECT_EQ(d.retry_after_ms, 0);
  bucket.Take(rule, 0, 1, Reachable(2), &d);
  EXPECT_EQ(d.remaining, 9);
  EXPECT_EQ(d.reset_after_ms, 200);  // one token at 5/s

  d = Check(&bucket, rule, 0, 9, Reachable(2));
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 0);
  EXPECT_EQ(d.reset_after_ms, 2000);

  d = Check(&bucket, rule, 0, 1, Reachable(2));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.remaining, 0);
  EXPECT_EQ(d.retry_after_ms, 200);

  d = Check(&bucket, rule, 200 * kMs, 1, Reachable(2));
  EXPECT_TRUE(d.allowed);

  Counters c = Report(&bucket, 200 * kMs);
  EXPECT_EQ(c.admitted, 11);
  EXPECT_EQ(c.refused, 1);
  EXPECT_EQ(c.unleased, 11);  // all of it without a lease
  c = Report(&bucket, 200 * kMs);
  EXPECT_EQ(c.admitted + c.refused + c.unleased, 0);  // reset
}

TEST(LocalBucketTest, SafeShareIsTheWholeBucketForOneAgent) {
  Rule rule = TestRule();
  LocalBucket bucket(rule, 0, Reachable(1));
  EXPECT_TRUE(Check(&bucket, rule, 0, 20, Reachable(1)).allowed);
  EXPECT_FALSE(Check(&bucket, rule, 0, 1, Reachable(1)).allowed);
}

TEST(LocalBucketTest, ZeroAgentsCountAsOne) {
  Rule rule = TestRule();
  LocalBucket bucket(rule, 0, Reachable(0));
  EXPECT_TRUE(Check(&bucket, rule, 0, 20, Reachable(0)).allowed);
}

TEST(LocalBucketTest, SafeShareFollowsTheNumberOfAgents) {
  Rule rule = TestRule();
  LocalBucket bucket(rule, 0, Reachable(1));  // 20 tokens
  // Four agents now: the share shrinks to 5 tokens at 2.5/s.
  Decision d;
  EXPECT_TRUE(bucket.CanTake(rule, 0, 5, Reachable(4), &d));
  EXPECT_EQ(d.remaining, 5);
  EXPECT_FALSE(bucket.CanTake(rule, 0, 6, Reachable(4), &d));
  EXPECT_EQ(d.retry_after_ms, 2400);  // 6 tokens at 10/4 per second
}

TEST(LocalBucketTest, CostAboveTheSafeShareWaitsForALease) {
  Rule rule = TestRule();
  LocalBucket bucket(rule, 0, Reachable(2));  // share holds 10
  Decision d;
  EXPECT_FALSE(bucket.CanTake(rule, 0, 15, Reachable(2), &d));
  EXPECT_EQ(d.retry_after_ms, 3000);  // 15 tokens at 5/s, not "never"
}

TEST(LocalBucketTest, CostAboveBurstIsNeverAllowed) {
  Rule rule = TestRule(FailureMode::kOpen);
  LocalBucket bucket(rule, 0, Reachable(1));
  Decision d;
  EXPECT_FALSE(bucket.CanTake(rule, 0, 21, Reachable(1), &d));
  EXPECT_EQ(d.retry_after_ms, -1);
  // Also with a lease, and also when failing open.
  bucket.ApplyGrant(rule, 0, 20, 10 * kSec, 0, Reachable(1));
  EXPECT_FALSE(bucket.CanTake(rule, 0, 21, Reachable(1), &d));
  EXPECT_EQ(d.retry_after_ms, -1);
  LocalBucket open(rule, 0, Unreachable(1));
  EXPECT_FALSE(open.CanTake(rule, 0, 21, Unreachable(1), &d));
  EXPECT_EQ(d.retry_after_ms, -1);
  Rule closed_rule = TestRule(FailureMode::kClosed);
  LocalBucket closed(closed_rule, 0, Unreachable(1));
  EXPECT_FALSE(closed.CanTake(closed_rule, 0, 21, Unreachable(1), &d));
  EXPECT_EQ(d.retry_after_ms, -1);
}

TEST(LocalBucketTest, ZeroCostTakesNothingAndReportsTheBucket) {
  Rule rule = TestRule();
  LocalBucket bucket(rule, 0, Reachable(2));
  ASSERT_TRUE(Check(&bucket, rule, 0, 4, Reachable(2)).allowed);
  Decision d = Check(&bucket, rule, 0, 0, Reachable(2));
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 6);
  EXPECT_EQ(Check(&bucket, rule, 0, 0, Reachable(2)).remaining, 6);
  EXPECT_EQ(Report(&bucket, 0).admitted, 4);
}

// --- Leases ---

TEST(LocalBucketTest, SpendsLeaseTokensBeforeTheSafeShare) {
  Rule rule = TestRule();
  LocalBucket bucket(rule, 0, Reachable(2));
  bucket.ApplyGrant(rule, 0, 8, 2 * kSec, 0, Reachable(2));
  ASSERT_TRUE(bucket.has_lease(0));
  EXPECT_EQ(bucket.lease_tokens(), 8);

  Decision d;
  ASSERT_TRUE(bucket.CanTake(rule, 0, 3, Reachable(2), &d));
  EXPECT_EQ(d.remaining, 8);
  EXPECT_EQ(d.reset_after_ms, 1200);  // 12 tokens short of burst, at 10/s
  bucket.Take(rule, 0, 3, Reachable(2), &d);
  EXPECT_EQ(d.remaining, 5);
  EXPECT_EQ(d.reset_after_ms, 1500);

  d = Check(&bucket, rule, 0, 5, Reachable(2));
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 0);

  // Out of lease tokens: refused although the safe share is untouched.
  d = Check(&bucket, rule, 0, 1, Reachable(2));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.remaining, 0);
  EXPECT_EQ(d.retry_after_ms, 200);  // 1 token at rate/agents = 5/s
  EXPECT_EQ(d.reset_after_ms, 2000);

  Counters c = Report(&bucket, 0);
  EXPECT_EQ(c.admitted, 8);
  EXPECT_EQ(c.refused, 1);
  EXPECT_EQ(c.unleased, 0);
}

TEST(LocalBucketTest, SafeShareSpentWhileRequestInFlightIsNettedFromGrant) {
  Rule rule = TestRule();
  LocalBucket bucket(rule, 0, Reachable(1));  // share: the whole 20
  ASSERT_TRUE(Check(&bucket, rule, 0, 1, Reachable(1)).allowed);
  Counters first = Report(&bucket, 0);  // the request carries 1 unleased
  EXPECT_EQ(first.unleased, 1);
  // Three more from the safe share before the grant arrives.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Check(&bucket, rule, kMs, 1, Reachable(1)).allowed);
  }
  bucket.ApplyGrant(rule, 0, 5, 2 * kSec, 2 * kMs, Reachable(1));
  // 5 granted, 3 of them already spent in the grant's window.
  EXPECT_EQ(bucket.LeaseTokens(2 * kMs), 2);
  Counters next = Report(&bucket, 3 * kMs);
  EXPECT_EQ(next.unleased, 0);
  EXPECT_EQ(next.admitted, 3);
}

TEST(LocalBucketTest, NettingNeverTakesMoreThanTheGrant) {
  Rule rule = TestRule();
  LocalBucket bucket(rule, 0, Reachable(1));
  Report(&bucket, 0);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(Check(&bucket, rule, kMs, 1, Reachable(1)).allowed);
  }
  bucket.ApplyGrant(rule, 0, 1, 2 * kSec, 2 * kMs, Reachable(1));
  EXPECT_EQ(bucket.LeaseTokens(2 * kMs), 0);
  EXPECT_EQ(Report(&bucket, 3 * kMs).unleased, 3);  // still owed
}

TEST(LocalBucketTest, LeaseTokensDoNotRefillLocallyTheSafeShareDoes) {
  Rule rule = TestRule();
  LocalBucket bucket(rule, 0, Reachable(2));
  bucket.ApplyGrant(rule, 0, 2, 10 * kSec, 0,
                    Reachable(2));  // empties the safe share
  EXPECT_TRUE(Check(&bucket, rule, 0, 2, Reachable(2)).allowed);
  EXPECT_FALSE(Check(&bucket, rule, 0, 1, Reachable(2)).allowed);
  // The lease is still valid and spent; the safe share refilled behind it.
  EXPECT_EQ(bucket.LeaseTokens(5 * kSec), 0);
  EXPECT_TRUE(Check(&bucket, rule, 5 * kSec, 10, Reachable(2)).allowed);
  EXPECT_EQ(Report(&bucket, 5 * kSec).unleased, 10);
}

TEST(LocalBucketTest, LeaseTokensDieAtExpiry) {
  Rule rule = TestRule();
  LocalBucket bucket(rule, 0, Reachable(2));
  // Requested at 100 ms, granted at 300 ms, ttl 1 s: valid until 1100 ms.
  bucket.ApplyGrant(rule, 100 * kMs, 8, kSec, 300 * kMs, Reachable(2));
  EXPECT_TRUE(bucket.has_lease(1099 * kMs));
  EXPECT_EQ(bucket.LeaseTokens(1099 * kMs), 8);
  EXPECT_FALSE(bucket.has_lease(1100 * kMs));
  EXPECT_EQ(bucket.LeaseTokens(1100 * kMs), 0);
  // After expiry the bucket is back on its safe share, which the grant
  // emptied: its share (5/s) of the refill since, 4 tokens.
  EXPECT_FALSE(Check(&bucket, rule, 1100 * kMs, 5, Reachable(2)).allowed);
  EXPECT_TRUE(Check(&bucket, rule, 1100 * kMs, 4, Reachable(2)).allowed);
  EXPECT_EQ(Report(&bucket, 1100 * kMs).unleased, 4);
}

TEST(LocalBucketTest, GrantThatExpiredInFlightAddsNothing) {
  Rule rule = TestRule();
  LocalBucket bucket(rule, 0, Reachable(2));
  bucket.ApplyGrant(rule, 0, 8, kSec, 2 * kSec, Reachable(2));
  EXPECT_FALSE(bucket.has_lease(2 * kSec));
  EXPECT_EQ(bucket.LeaseTokens(2 * kSec), 0);
}

TEST(LocalBucketTest, PreviousLeaseTokensAreKeptUntilTheirOwnExpiry) {
  Rule rule = TestRule();
  LocalBucket bucket(rule, 0, Reachable(1));
  bucket.ApplyGrant(rule, 0, 5, kSec, 0, Reachable(1));  // 5 until 1.0 s
  bucket.ApplyGrant(rule, 400 * kMs, 3, kSec, 500 * kMs,
                    Reachable(1));  // 3 until 1.4 s
  EXPECT_EQ(bucket.LeaseTokens(500 * kMs), 8);
  EXPECT_EQ(bucket.lease_expiry(), 1400 * kMs);
  // Spending takes the older tokens first.
  ASSERT_TRUE(Check(&bucket, rule, 500 * kMs, 2, Reachable(1)).allowed);
  EXPECT_EQ(bucket.LeaseTokens(999 * kMs), 6);
  // The older grant's remaining 3 die at 1.0 s; the newer 3 live on.
  EXPECT_EQ(bucket.LeaseTokens(1000 * kMs), 3);
  EXPECT_TRUE(Check(&bucket, rule, 1000 * kMs, 3, Reachable(1)).allowed);
  EXPECT_EQ(bucket.LeaseTokens(1000 * kMs), 0);
}

TEST(LocalBucketTest, LateGrantForAnOlderRequestNeverOutlivesItsWindow) {
  Rule rule = TestRule();
  LocalBucket bucket(rule, 0, Reachable(1));
  bucket.ApplyGrant(rule, 500 * kMs, 4, kSec, 600 * kMs,
                    Reachable(1));  // until 1.5 s
  bucket.ApplyGrant(rule, 0, 6, kSec, 700 * kMs,
                    Reachable(1));  // older: until 1.0 s
  EXPECT_EQ(bucket.lease_expiry(), 1500 * kMs);
  EXPECT_EQ(bucket.LeaseTokens(700 * kMs), 10);
  EXPECT_EQ(bucket.LeaseTokens(1000 * kMs), 4);
}

TEST(LocalBucketTest, ZeroTokenGrantRefusesUntilTheCreditHorizon) {
  // The controller had nothing to give: for 200 ms after the request the
  // agent's share of the refill is its credit there, coming with the next
  // grant, so the safe share is not used; after, it is.
  Rule rule = TestRule();
  LocalBucket bucket(rule, 0, Reachable(2));
  Report(&bucket, 0);
  bucket.ApplyGrant(rule, 0, 0, kSec, 0, Reachable(2));
  EXPECT_FALSE(Check(&bucket, rule, 0, 1, Reachable(2)).allowed);
  EXPECT_FALSE(Check(&bucket, rule, 199 * kMs, 1, Reachable(2)).allowed);
  EXPECT_TRUE(bucket.has_lease(200 * kMs));
  EXPECT_TRUE(Check(&bucket, rule, 200 * kMs, 1, Reachable(2)).allowed);
  EXPECT_TRUE(Check(&bucket, rule, kSec, 1, Reachable(2)).allowed);
}

// --- Controller unreachable ---

TEST(LocalBucketTest, UnreachableSpendsLeasesUntilExpiry) {
  for (FailureMode fm :
       {FailureMode::kOpen, FailureMode::kClosed, FailureMode::kLocal}) {
    Rule rule = TestRule(fm);
    LocalBucket bucket(rule, 0, Unreachable(2));
    bucket.ApplyGrant(rule, 0, 2, kSec, 0, Unreachable(2));
    EXPECT_TRUE(Check(&bucket, rule, 0, 2, Unreachable(2)).allowed);
    EXPECT_FALSE(Check(&bucket, rule, 0, 1, Unreachable(2)).allowed)
        << FailureModeName(fm);
  }
}

TEST(LocalBucketTest, UnreachableOpenAdmitsEverything) {
  Rule rule = TestRule(FailureMode::kOpen);
  LocalBucket bucket(rule, 0, Unreachable(2));
  for (int i = 0; i < 100; ++i) {
    Decision d = Check(&bucket, rule, 0, 20, Unreachable(2));
    ASSERT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 20);
    EXPECT_EQ(d.reset_after_ms, 0);
    EXPECT_EQ(d.retry_after_ms, 0);
  }
  Counters c = Report(&bucket, 0);
  EXPECT_EQ(c.admitted, 2000);
  EXPECT_EQ(c.unleased, 2000);  // charged to the global bucket later
}

TEST(LocalBucketTest, UnreachableClosedRefusesEverything) {
  Rule rule = TestRule(FailureMode::kClosed);
  LocalBucket bucket(rule, 0, Unreachable(2));
  Decision d = Check(&bucket, rule, 0, 1, Unreachable(2));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.limit, 10);
  EXPECT_EQ(d.remaining, 0);
  EXPECT_EQ(d.retry_after_ms, 1000);
  EXPECT_FALSE(Check(&bucket, rule, 0, 0, Unreachable(2)).allowed);
  // Reachable again: the safe share answers.
  EXPECT_TRUE(Check(&bucket, rule, 0, 1, Reachable(2)).allowed);
}

TEST(LocalBucketTest, UnreachableLocalEnforcesTheSafeShare) {
  Rule rule = TestRule(FailureMode::kLocal);
  LocalBucket bucket(rule, 0, Unreachable(2));
  EXPECT_TRUE(Check(&bucket, rule, 0, 10, Unreachable(2)).allowed);
  Decision d = Check(&bucket, rule, 0, 1, Unreachable(2));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_ms, 200);
  EXPECT_TRUE(Check(&bucket, rule, kSec, 5, Unreachable(2)).allowed);
}

TEST(LocalBucketTest, ReachableIgnoresTheFailureMode) {
  for (FailureMode fm : {FailureMode::kOpen, FailureMode::kClosed}) {
    Rule rule = TestRule(fm);
    LocalBucket bucket(rule, 0, Reachable(2));
    EXPECT_TRUE(Check(&bucket, rule, 0, 10, Reachable(2)).allowed);
    EXPECT_FALSE(Check(&bucket, rule, 0, 1, Reachable(2)).allowed);
  }
}

// --- NeedsLease ---

TEST(LocalBucketTest, UnusedBucketNeedsNoLease) {
  Rule rule = TestRule();
  LocalBucket bucket(rule, 0, Reachable());
  int64_t want = -1;
  EXPECT_FALSE(
      bucket.NeedsLease(rule, 0, LeaseEveryBucket(), LeaseContext(), &want));
  EXPECT_FALSE(bucket.NeedsLease(rule, 10 * kSec, LeaseEveryBucket(),
                                 LeaseContext(), &want));
  Check(&bucket, rule, 0, 0, Reachable());  // cost 0 is no demand
  EXPECT_FALSE(
      bucket.NeedsLease(rule, 0, LeaseEveryBucket(), LeaseContext(), &want));
}

TEST(LocalBucketTest, UsedBucketWithoutLeaseNeedsOne) {
  Rule rule = TestRule();
  LocalBucket bucket(rule, 0, Reachable());
  Check(&bucket, rule, 0, 1, Reachable());
  int64_t want = -1;
  EXPECT_TRUE(
      bucket.NeedsLease(rule, 0, LeaseEveryBucket(), LeaseContext(), &want));
  // 1 token in the minimum window of 100 ms is 10/s; times 2 * 500 ms.
  EXPECT_EQ(want, 10);
}

TEST(LocalBucketTest, RefusedDemandAlsoCounts) {
  Rule rule = TestRule(FailureMode::kClosed);
  LocalBucket bucket(rule, 0, Unreachable());
  Check(&bucket, rule, 0, 1, Unreachable());
  int64_t want = -1;
  EXPECT_TRUE(
      bucket.NeedsLease(rule, 0, LeaseEveryBucket(), LeaseContext(), &want));
}

TEST(LocalBucketTest, WantIsDemandRateTimesTwiceTheRefreshMargin) {
  Rule rule = MakeRule(1, "api", {}, 1000, 1000, 1000);
  LocalBucket bucket(rule, 0, Reachable(1));
  for (int i = 0; i < 30; ++i) Check(&bucket, rule, 0, 1, Reachable(1));
  int64_t want = 0;
  // 30 tokens in 500 ms: 60/s, times 1 s.
  ASSERT_TRUE(bucket.NeedsLease(rule, 500 * kMs, LeaseEveryBucket(),
                                LeaseContext(), &want));
  EXPECT_EQ(want, 60);
  LeaseTiming timing = LeaseEveryBucket();
  timing.refresh_margin_ns = 2 * kSec;  // 30 tokens in 2 s, times 4 s
  ASSERT_TRUE(bucket.NeedsLease(rule, 2 * kSec, timing, LeaseContext(), &want));
  EXPECT_EQ(want, 60);
}

TEST(LocalBucketTest, WindowLongerThanTheHorizonAsksForWhatItUsed) {
  // A client that comes in bursts of 4 checks 100 ms apart, then pauses
  // for 3 s. Averaged over the pause its demand is about 1/s, and a grant
  // of that would run dry within the next burst (a second request, and a
  // refusal if the check after it came before the grant).
  Rule rule = MakeRule(1, "api", {}, 1000, 1000, 1000);
  LocalBucket bucket(rule, 0, Reachable(1));
  Check(&bucket, rule, 0, 1, Reachable(1));
  int64_t want = 0;
  ASSERT_TRUE(
      bucket.NeedsLease(rule, 0, LeaseEveryBucket(), LeaseContext(), &want));
  Report(&bucket, 0);
  bucket.ApplyGrant(rule, 0, want, 2 * kSec, 1 * kMs, Reachable(1));
  for (int i = 1; i < 4; ++i) {
    EXPECT_EQ(Check(&bucket, rule, i * 100 * kMs, 1, Reachable(1)).allowed, 1);
  }
  EXPECT_FALSE(bucket.NeedsLease(rule, 300 * kMs, LeaseEveryBucket(),
                                 LeaseContext(), &want));
  // 3.4 s later (the lease expired): the next burst starts.
  const int64_t t = 3700 * kMs;
  Check(&bucket, rule, t, 1, Reachable(1));
  ASSERT_TRUE(
      bucket.NeedsLease(rule, t, LeaseEveryBucket(), LeaseContext(), &want));
  EXPECT_EQ(want, 8);  // twice the 3 + 1 used, not 4 / 3.7 s * 1 s
  Report(&bucket, t);
  bucket.ApplyGrant(rule, t, want, 2 * kSec, t + 1 * kMs, Reachable(1));
  for (int i = 1; i < 4; ++i) {
    const int64_t at = t + i * 100 * kMs;
    EXPECT_EQ(Check(&bucket, rule, at, 1, Reachable(1)).allowed, 1);
    EXPECT_FALSE(
        bucket.NeedsLease(rule, at, LeaseEveryBucket(), LeaseContext(), &want))
        << i;
  }
}

TEST(LocalBucketTest, WantIsAtLeastTheLastCostAndAtMostBurst) {
  Rule rule = TestRule();  // burst 20
  LocalBucket bucket(rule, 0, Reachable(1));
  Check(&bucket, rule, 0, 7, Reachable(1));
  int64_t want = 0;
  // 7 tokens in 100 s: the window counts as the refresh margin (500 ms),
  // so it asks for twice what it used.
  ASSERT_TRUE(bucket.NeedsLease(rule, 100 * kSec, LeaseEveryBucket(),
                                LeaseContext(), &want));
  EXPECT_EQ(want, 14);
  // 7 tokens in the minimum 100 ms window: 70 per second, capped at burst.
  ASSERT_TRUE(
      bucket.NeedsLease(rule, 0, LeaseEveryBucket(), LeaseContext(), &want));
  EXPECT_EQ(want, 20);
  // A window that used 1 token, then a check of cost 7 this bucket could
  // have admitted but did not count (another rule of an AND refused it):
  // at least the last cost.
  Report(&bucket, 100 * kSec);
  Check(&bucket, rule, 101 * kSec, 1, Reachable(1));
  Decision d;
  ASSERT_TRUE(bucket.CanTake(rule, 101 * kSec, 7, Reachable(1), &d));
  ASSERT_TRUE(bucket.NeedsLease(rule, 200 * kSec, LeaseEveryBucket(),
                                LeaseContext(), &want));
  EXPECT_EQ(want, 7);  // not 2
}

// A lease granted from the burst and left unspent while the safe share
// refills: what the lease admits is taken from the share too, so that the
// client coming back after a pause gets the lease's tokens and the share's
// refill beyond them, not both (the budget refilled only into the room the
// unspent lease left).
TEST(LocalBucketTest, WhatALeaseAdmitsIsNotAdmittedAgainFromTheShare) {
  Rule rule = MakeRule(1, "api", {{"client_id", "*"}}, 10, 1000, 10);
  LocalBucket bucket(rule, 0, Reachable(1));
  ASSERT_TRUE(Check(&bucket, rule, 0, 1, Reachable(1)).allowed);
  Report(&bucket, 0);
  bucket.ApplyGrant(rule, 0, 9, 2 * kSec, 1 * kMs,
                    Reachable(1));  // the rest of the burst
  int admitted = 0;
  for (int i = 0; i < 15; ++i) {  // 1.1 s later: the share is full again
    admitted += Check(&bucket, rule, 1100 * kMs, 1, Reachable(1)).allowed;
  }
  EXPECT_EQ(admitted, 10);  // 9 from the lease, 1 from the share (was 15)
}

TEST(LocalBucketTest, NoSecondRequestWhileOneIsInFlight) {
  Rule rule = TestRule();
  LocalBucket bucket(rule, 0, Reachable());
  LeaseTiming timing = LeaseEveryBucket();  // timeout 1 s
  Check(&bucket, rule, 0, 1, Reachable());
  int64_t want = 0;
  ASSERT_TRUE(bucket.NeedsLease(rule, 0, timing, LeaseContext(), &want));
  Report(&bucket, 0);
  Check(&bucket, rule, 10 * kMs, 1, Reachable());
  EXPECT_FALSE(
      bucket.NeedsLease(rule, 10 * kMs, timing, LeaseContext(), &want));
  EXPECT_FALSE(
      bucket.NeedsLease(rule, 999 * kMs, timing, LeaseContext(), &want));
  // The answer never came: after the timeout, ask again.
  EXPECT_TRUE(
      bucket.NeedsLease(rule, 1000 * kMs, timing, LeaseContext(), &want));
}

TEST(LocalBucketTest, GrantEndsTheRequestInFlight) {
  Rule rule = TestRule();
  LocalBucket bucket(rule, 0, Reachable());
  LeaseTiming timing = LeaseEveryBucket();  // min interval 50 ms
  Check(&bucket, rule, 0, 1, Reachable());
  Report(&bucket, 0);
  bucket.ApplyGrant(rule, 0, 0, 10 * kSec, 5 * kMs,
                    Reachable());  // nothing granted
  Check(&bucket, rule, 10 * kMs, 1, Reachable());
  int64_t want = 0;
  // Not in flight any more, but the last request is only 10 ms old.
  EXPECT_FALSE(
      bucket.NeedsLease(rule, 10 * kMs, timing, LeaseContext(), &want));
  EXPECT_TRUE(bucket.NeedsLease(rule, 50 * kMs, timing, LeaseContext(), &want));
}

TEST(LocalBucketTest, GrantForAnOlderRequestLeavesTheNewOneInFlight) {
  Rule rule = TestRule();
  LocalBucket bucket(rule, 0, Reachable());
  LeaseTiming timing = LeaseEveryBucket();
  Check(&bucket, rule, 0, 1, Reachable());
  Report(&bucket, 0);
  Check(&bucket, rule, 2 * kSec, 1, Reachable());
  Report(&bucket, 2 * kSec);  // the first timed out; a second is sent
  bucket.ApplyGrant(rule, 0, 0, 10 * kSec, 2100 * kMs,
                    Reachable());  // answers the first
  Check(&bucket, rule, 2200 * kMs, 1, Reachable());
  int64_t want = 0;
  EXPECT_FALSE(
      bucket.NeedsLease(rule, 2200 * kMs, timing, LeaseContext(), &want));
}

// A bucket with a fresh, full lease and some use since the last report.
struct LeasedBucket {
  Rule rule = TestRule();
  LocalBucket bucket{rule, 0, Reachable(1)};
  LeasedBucket() {
    Check(&bucket, rule, 0, 1, Reachable(1));
    Report(&bucket, 0);
    bucket.ApplyGrant(rule, 0, 10, 2 * kSec, 0,
                      Reachable());  // 10 tokens until 2 s
  }
};

TEST(LocalBucketTest, HealthyLeaseNeedsNoRenewal) {
  LeasedBucket b;
  Check(&b.bucket, b.rule, 100 * kMs, 1, Reachable(1));  // 9 left
  int64_t want = 0;
  EXPECT_FALSE(b.bucket.NeedsLease(b.rule, 100 * kMs, LeaseEveryBucket(),
                                   LeaseContext(), &want));
}

TEST(LocalBucketTest, LeaseExpiringWithinTheMarginIsRenewed) {
  LeasedBucket b;
  Check(&b.bucket, b.rule, 100 * kMs, 1, Reachable(1));
  int64_t want = 0;
  EXPECT_FALSE(b.bucket.NeedsLease(b.rule, 1499 * kMs, LeaseEveryBucket(),
                                   LeaseContext(), &want));
  EXPECT_TRUE(b.bucket.NeedsLease(b.rule, 1500 * kMs, LeaseEveryBucket(),
                                  LeaseContext(), &want));
}

TEST(LocalBucketTest, LeaseBelowHalfOfTheLastGrantIsRenewed) {
  LeasedBucket b;
  Check(&b.bucket, b.rule, 100 * kMs, 5, Reachable(1));  // 5 left: half
  int64_t want = 0;
  EXPECT_FALSE(b.bucket.NeedsLease(b.rule, 100 * kMs, LeaseEveryBucket(),
                                   LeaseContext(), &want));
  Check(&b.bucket, b.rule, 100 * kMs, 1, Reachable(1));  // 4 left
  EXPECT_TRUE(b.bucket.NeedsLease(b.rule, 100 * kMs, LeaseEveryBucket(),
                                  LeaseContext(), &want));
}

TEST(LocalBucketTest, LeaseBelowTheLastCostIsRenewed) {
  LeasedBucket b;
  // A refused check of 12 makes the last cost 12, more than the 10 held.
  Check(&b.bucket, b.rule, 100 * kMs, 12, Reachable(1));
  int64_t want = 0;
  EXPECT_TRUE(b.bucket.NeedsLease(b.rule, 100 * kMs, LeaseEveryBucket(),
                                  LeaseContext(), &want));
  EXPECT_GE(want, 12);
}

TEST(LocalBucketTest, SweepWaitsToReportTokensSpentFromLeases) {
  LeasedBucket b;
  Check(&b.bucket, b.rule, 100 * kMs, 1, Reachable(1));  // from the lease
  int64_t want = 0;
  // A check at 1.5 s would renew; the sweep does not, nor once it expired.
  ASSERT_TRUE(b.bucket.NeedsLease(b.rule, 1500 * kMs, LeaseEveryBucket(),
                                  LeaseContext(), &want));
  EXPECT_FALSE(b.bucket.NeedsSweepLease(b.rule, 1500 * kMs, LeaseEveryBucket(),
                                        LeaseContext(), &want));
  EXPECT_FALSE(b.bucket.NeedsSweepLease(b.rule, 4999 * kMs, LeaseEveryBucket(),
                                        LeaseContext(), &want));
  // The report is due quiet_report_ns after the last request.
  EXPECT_TRUE(b.bucket.NeedsSweepLease(b.rule, 5 * kSec, LeaseEveryBucket(),
                                       LeaseContext(), &want));
  LeaseTiming timing = LeaseEveryBucket();
  timing.quiet_report_ns = 1 * kSec;
  EXPECT_TRUE(b.bucket.NeedsSweepLease(b.rule, 1500 * kMs, timing,
                                       LeaseContext(), &want));
}

TEST(LocalBucketTest, SweepReportsRefusedAndUnleasedAtOnce) {
  {
    LeasedBucket b;
    Check(&b.bucket, b.rule, 100 * kMs, 11, Reachable(1));  // refused
    int64_t want = 0;
    EXPECT_TRUE(b.bucket.NeedsSweepLease(b.rule, 100 * kMs, LeaseEveryBucket(),
                                         LeaseContext(), &want));
  }
  {
    LeasedBucket b;
    // After the lease: from the safe share, so unleased.
    Check(&b.bucket, b.rule, 2100 * kMs, 1, Reachable(1));
    int64_t want = 0;
    EXPECT_TRUE(b.bucket.NeedsSweepLease(b.rule, 2100 * kMs, LeaseEveryBucket(),
                                         LeaseContext(), &want));
  }
  {
    // Never asked (say the controller was away): at once.
    Rule rule = TestRule();
    LocalBucket bucket(rule, 0, Unreachable(1));
    Check(&bucket, rule, 0, 1, Unreachable(1));
    int64_t want = 0;
    EXPECT_TRUE(bucket.NeedsSweepLease(rule, 0, LeaseEveryBucket(),
                                       LeaseContext(), &want));
  }
}

TEST(LocalBucketTest, LeaseWithoutUseIsNotRenewed) {
  LeasedBucket b;
  int64_t want = 0;
  EXPECT_FALSE(b.bucket.NeedsLease(b.rule, 1900 * kMs, LeaseEveryBucket(),
                                   LeaseContext(), &want));
  EXPECT_FALSE(b.bucket.NeedsLease(b.rule, 5 * kSec, LeaseEveryBucket(),
                                   LeaseContext(), &want));
}

// --- Idle and Reconfigure ---

TEST(LocalBucketTest, FreshBucketIsIdle) {
  Rule rule = TestRule();
  LocalBucket bucket(rule, 0, Reachable());
  EXPECT_TRUE(bucket.Idle(rule, 0, LeaseTiming()));
}

// A bucket whose request is in flight is not idle, though its share may
// be full again a millisecond later (1000/s): evicted, it would lose the
// grant, which the controller counts as leased until it expires, and its
// next check would ask again from an emptier budget.
TEST(LocalBucketTest, ABucketWithARequestInFlightIsNotIdle) {
  Rule rule = MakeRule(1, "api", {{"client_id", "*"}}, 1000, 1000, 1000);
  LocalBucket bucket(rule, 0, Reachable(1));
  Check(&bucket, rule, 0, 1, Reachable(1));
  Report(&bucket, 0);  // the request leaves
  EXPECT_FALSE(bucket.Idle(rule, 5 * kMs, LeaseTiming()));  // share full
  // No answer within the request timeout (1 s): nothing is coming.
  EXPECT_FALSE(bucket.Idle(rule, 999 * kMs, LeaseTiming()));
  EXPECT_TRUE(bucket.Idle(rule, 1000 * kMs, LeaseTiming()));
}

TEST(LocalBucketTest, BucketIsIdleOnlyWhenNothingDistinguishesIt) {
  Rule rule = TestRule();
  LocalBucket bucket(rule, 0, Reachable(2));  // share: 10 at 5/s
  Check(&bucket, rule, 0, 5, Reachable(2));
  EXPECT_FALSE(bucket.Idle(rule, 0, LeaseTiming()));  // counters to report
  Report(&bucket, 0);
  EXPECT_FALSE(bucket.Idle(rule, 0, LeaseTiming()));  // safe share not full
  EXPECT_FALSE(bucket.Idle(rule, 999 * kMs, LeaseTiming()));
  EXPECT_TRUE(bucket.Idle(rule, 1000 * kMs, LeaseTiming()));  // refilled
  bucket.ApplyGrant(rule, 1000 * kMs, 3, kSec, 1000 * kMs, Reachable(2));
  EXPECT_FALSE(
      bucket.Idle(rule, 1500 * kMs, LeaseTiming()));  // holds a valid lease
  // The grant emptied the safe share: full again 2 s after.
  EXPECT_FALSE(bucket.Idle(rule, 2999 * kMs, LeaseTiming()));
  EXPECT_TRUE(bucket.Idle(rule, 3000 * kMs, LeaseTiming()));
  bucket.CountRefused(1);
  EXPECT_FALSE(bucket.Idle(rule, 4000 * kMs, LeaseTiming()));
}

TEST(LocalBucketTest, ReconfigureRescalesTheSafeShare) {
  Rule rule = TestRule();  // burst 20
  LocalBucket bucket(rule, 0, Reachable(1));
  Rule smaller = rule;
  smaller.burst = 4;
  smaller.limit = 4;
  smaller.version = 2;
  bucket.Reconfigure(rule, smaller, 0);
  Decision d;
  EXPECT_FALSE(bucket.CanTake(smaller, 0, 5, Reachable(1), &d));
  EXPECT_EQ(d.retry_after_ms, -1);  // more than the new burst
  EXPECT_TRUE(bucket.CanTake(smaller, 0, 4, Reachable(1), &d));
  EXPECT_EQ(d.limit, 4);
  EXPECT_EQ(d.remaining, 4);
}

TEST(LocalBucketTest, ReconfigureGivesUpLeasedTokensBeyondTheNewBurst) {
  Rule rule = TestRule();
  LocalBucket bucket(rule, 0, Reachable(1));
  bucket.ApplyGrant(rule, 0, 15, kSec, 0, Reachable(1));
  Rule smaller = rule;
  smaller.burst = 5;
  bucket.Reconfigure(rule, smaller, 0);
  EXPECT_EQ(bucket.LeaseTokens(0), 5);
}

// --- Compact state ---

TEST(LocalBucketTest, IsSixtyFourBytes) {
  // agent/check/bucket_table.h relies on it.
  EXPECT_EQ(sizeof(LocalBucket), 64u);
}

TEST(LocalBucketTest, AgentsChangeRescalesTheShareInProportion) {
  Rule rule = TestRule();  // burst 20, 10/s
  LocalBucket bucket(rule, 0, Reachable(1));
  ASSERT_TRUE(Check(&bucket, rule, 0, 10, Reachable(1)).allowed);  // half
  // Two agents: the share is 10 tokens at 5/s, still half spent.
  Decision d;
  EXPECT_TRUE(bucket.CanTake(rule, 0, 5, Reachable(2), &d));
  EXPECT_EQ(d.remaining, 5);
  EXPECT_EQ(d.reset_after_ms, 1000);  // 5 tokens at 5/s
  EXPECT_FALSE(bucket.CanTake(rule, 0, 6, Reachable(2), &d));
  EXPECT_EQ(d.retry_after_ms, 200);
  // Back to one agent: 10 of 20 again, plus what accrued meanwhile.
  EXPECT_TRUE(bucket.CanTake(rule, 500 * kMs, 0, Reachable(1), &d));
  EXPECT_EQ(d.remaining, 15);
}

TEST(LocalBucketTest, ReconfigureRefillsAtTheOldRateUpToNow) {
  Rule rule = TestRule();  // burst 20, 10/s
  LocalBucket bucket(rule, 0, Reachable(1));
  ASSERT_TRUE(Check(&bucket, rule, 0, 20, Reachable(1)).allowed);
  Rule faster = rule;
  faster.version = 2;
  faster.limit = 100;  // 100/s from now on
  bucket.Reconfigure(rule, faster, kSec);
  Decision d;
  bucket.CanTake(faster, kSec, 0, Reachable(1), &d);
  EXPECT_EQ(d.remaining, 10);  // one second at 10/s
  bucket.CanTake(faster, kSec + 50 * kMs, 0, Reachable(1), &d);
  EXPECT_EQ(d.remaining, 15);  // then 50 ms at 100/s
}

TEST(LocalBucketTest, GrantStampedAfterTheRequestEndsItsFlight) {
  // The agent stamps a request when it leaves (after MarkRequested): the
  // grant for it still ends the request in flight.
  Rule rule = TestRule();
  LocalBucket bucket(rule, 0, Reachable());
  LeaseTiming timing = LeaseEveryBucket();  // min interval 50 ms, timeout 1 s
  Check(&bucket, rule, 0, 1, Reachable());
  Report(&bucket, 0);
  bucket.ApplyGrant(rule, 3 * kMs, 0, 10 * kSec, 5 * kMs,
                    Reachable());  // sent at 3 ms
  Check(&bucket, rule, 10 * kMs, 1, Reachable());
  int64_t want = 0;
  EXPECT_FALSE(
      bucket.NeedsLease(rule, 49 * kMs, timing, LeaseContext(), &want));
  EXPECT_TRUE(bucket.NeedsLease(rule, 50 * kMs, timing, LeaseContext(), &want));
}

TEST(LocalBucketTest, EarlierLeaseDiesAtMostOneGapUnitEarly) {
  Rule rule = TestRule();
  LocalBucket bucket(rule, 0, Reachable(1));
  bucket.ApplyGrant(rule, 0, 5, kSec + 500, 0,
                    Reachable(1));  // 5 tokens until 1 s + 500 ns
  bucket.ApplyGrant(rule, 2000, 3, kSec, 0,
                    Reachable(1));  // 3 tokens until 1 s + 2000 ns
  EXPECT_EQ(bucket.lease_expiry(), kSec + 2000);
  // The gap of 1500 ns is kept as one unit (128 us): the 5 die at
  // 1 s + 2000 ns - 128 us, up to 128 us early.
  const int64_t old_expiry = kSec + 2000 - LocalBucket::kOldGapUnitNanos;
  EXPECT_EQ(bucket.LeaseTokens(old_expiry - 1), 8);
  EXPECT_EQ(bucket.LeaseTokens(old_expiry), 3);
  EXPECT_EQ(bucket.LeaseTokens(kSec + 1999), 3);
  EXPECT_EQ(bucket.LeaseTokens(kSec + 2000), 0);
}

TEST(LocalBucketTest, EarlierLeaseFarBeforeTheLatestIsDropped) {
  Rule rule = TestRule();
  const int64_t max_gap =
      LocalBucket::kMaxOldGapUnits * LocalBucket::kOldGapUnitNanos;
  LocalBucket kept(rule, 0, Reachable(1));
  kept.ApplyGrant(rule, 0, 5, kSec, 0, Reachable(1));
  kept.ApplyGrant(rule, 0, 3, kSec + max_gap, 0, Reachable(1));
  EXPECT_EQ(kept.LeaseTokens(0), 8);
  EXPECT_EQ(kept.LeaseTokens(kSec), 3);
  LocalBucket dropped(rule, 0, Reachable(1));
  dropped.ApplyGrant(rule, 0, 5, kSec, 0, Reachable(1));
  dropped.ApplyGrant(rule, 0, 3, kSec + max_gap + 1000, 0, Reachable(1));
  EXPECT_EQ(dropped.LeaseTokens(0), 3);  // stricter, never looser
}

// A rule far beyond the 32-bit counts: 2^40 tokens per second.
Rule HugeRule(FailureMode failure_mode = FailureMode::kLocal) {
  Rule rule = MakeRule(1, "api", {}, int64_t{1} << 40, 1000, int64_t{1} << 40);
  rule.failure_mode = failure_mode;
  return rule;
}

TEST(LocalBucketTest, GrantAboveTheCountRangeIsHeldAsTheMaximum) {
  Rule rule = HugeRule();
  LocalBucket bucket(rule, 0, Reachable(2));
  bucket.ApplyGrant(rule, 0, int64_t{1} << 36, 10 * kSec, 0, Reachable(2));
  EXPECT_EQ(bucket.LeaseTokens(0), LocalBucket::kMaxCount);
  Decision d;
  EXPECT_TRUE(
      bucket.CanTake(rule, 0, LocalBucket::kMaxCount, Reachable(2), &d));
  EXPECT_FALSE(
      bucket.CanTake(rule, 0, LocalBucket::kMaxCount + 1, Reachable(2), &d));
  bucket.Take(rule, 0, LocalBucket::kMaxCount, Reachable(2), &d);
  EXPECT_EQ(d.remaining, 0);
}

TEST(LocalBucketTest, CountersSaturateAtTheCountRange) {
  Rule rule = HugeRule(FailureMode::kOpen);
  LocalBucket bucket(rule, 0, Unreachable(1));
  const int64_t big = int64_t{1} << 33;
  ASSERT_TRUE(Check(&bucket, rule, 0, big, Unreachable(1)).allowed);
  ASSERT_TRUE(Check(&bucket, rule, 0, 1, Unreachable(1)).allowed);
  bucket.CountRefused(big);
  bucket.CountRefused(big);
  Counters c = Report(&bucket, 0);
  EXPECT_EQ(c.admitted, LocalBucket::kMaxCount);
  EXPECT_EQ(c.unleased, LocalBucket::kMaxCount);
  EXPECT_EQ(c.refused, LocalBucket::kMaxCount);
  // Below the range, counts are exact.
  ASSERT_TRUE(Check(&bucket, rule, 0, 12345, Unreachable(1)).allowed);
  EXPECT_EQ(Report(&bucket, 0).admitted, 12345);
}

TEST(LocalBucketTest, LastCostAboveTheCountRangeStillAsksForALease) {
  Rule rule = HugeRule();
  LocalBucket bucket(rule, 0, Reachable(2));
  Check(&bucket, rule, 0, 1, Reachable(2));
  Report(&bucket, 0);
  bucket.ApplyGrant(rule, 0, 100, 10 * kSec, 0, Reachable(2));
  // Refused from a 100-token lease (within 200 ms of the request, so not
  // from the safe share): the last cost is far above it.
  ASSERT_FALSE(
      Check(&bucket, rule, 100 * kMs, int64_t{1} << 35, Reachable(2)).allowed);
  int64_t want = 0;
  ASSERT_TRUE(bucket.NeedsLease(rule, 100 * kMs, LeaseEveryBucket(),
                                LeaseContext(), &want));
  EXPECT_GE(want, LocalBucket::kMaxCount);
}

}  // namespace
}  // namespace sluice
