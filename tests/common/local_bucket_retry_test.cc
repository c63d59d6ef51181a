// The retry promise on LocalBucket (docs/leasing.md, "Retry after"), on an
// injected clock: a spent or lapsed lease falls back on the safe share,
// and successive refusals get successive turns of the share's refill.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/clock.h"
#include "common/local_bucket.h"
#include "tests/common/test_rule.h"

namespace sluice {
namespace {

using testing_rules::MakeRule;

constexpr int64_t kMs = kNanosPerMilli;
constexpr int64_t kSec = kNanosPerSecond;

// limit 10 per second, burst 10.
Rule TenPerSecond(FailureMode failure_mode = FailureMode::kLocal) {
  Rule rule = MakeRule(1, "api", {{"route", "*"}}, 10, 1000, 10);
  rule.failure_mode = failure_mode;
  return rule;
}

// A check as the agent runs it: CanTake, then Take or Refuse.
Decision Check(LocalBucket* bucket, const Rule& rule, int64_t now, int64_t cost,
               const LeaseContext& ctx) {
  Decision d;
  if (bucket->CanTake(rule, now, cost, ctx, &d)) {
    bucket->Take(rule, now, cost, ctx, &d);
  } else {
    bucket->Refuse(rule, now, cost, ctx, &d);
  }
  return d;
}

// Takes tokens one by one at `now` until the bucket refuses.
void SpendTheShare(LocalBucket* bucket, const Rule& rule,
                   const LeaseContext& ctx, int64_t now = 0) {
  Decision d;
  while (bucket->CanTake(rule, now, 1, ctx, &d)) {
    bucket->Take(rule, now, 1, ctx, &d);
  }
}

void Request(LocalBucket* bucket, int64_t now) {
  int64_t admitted, refused, unleased;
  bucket->MarkRequested(now, &admitted, &refused, &unleased);
}

// What main did: 15 rapid checks admit 10, the lease granted meanwhile is
// valid and spent, and a client that waited a full refill was refused.
TEST(LocalBucketRetryTest, AFullRefillAfterASpentLeaseIsAdmitted) {
  const Rule rule = TenPerSecond();
  const LeaseContext ctx{true, 1};
  LocalBucket bucket(rule, 0, ctx);
  EXPECT_TRUE(Check(&bucket, rule, 0, 1, ctx).allowed);
  Request(&bucket, 0);  // the first check's lease request
  int admitted = 1;
  for (int i = 1; i < 15; ++i) {
    admitted += Check(&bucket, rule, i * 10000, 1, ctx).allowed ? 1 : 0;
  }
  EXPECT_EQ(admitted, 10);
  // The controller had 9 left after the first unleased token: granted,
  // and netted against the 9 admitted from the safe share meanwhile.
  bucket.ApplyGrant(rule, 0, 9, 2 * kSec, 2 * kMs, ctx);
  EXPECT_TRUE(bucket.has_lease(1100 * kMs));
  EXPECT_EQ(bucket.LeaseTokens(1100 * kMs), 0);
  // 1.1 s later (the lease valid, spent): the safe share decides.
  const Decision d = Check(&bucket, rule, 1100 * kMs, 1, ctx);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 9);
}

// 15 checks against a full budget, 2 s after a burst that was refused in
// part: the first check's request carries those old refusals, and its
// grant arrives mid-burst. The grant is released at once, not paced as a
// contended bucket's (which left the burst refused after 4 checks when
// the grant came early): the burst gets its 10.
TEST(LocalBucketRetryTest, OldRefusalsDoNotPaceTheNextBurst) {
  const Rule rule = TenPerSecond();
  const LeaseContext ctx{true, 1};
  LocalBucket bucket(rule, 0, ctx);
  ASSERT_TRUE(Check(&bucket, rule, 0, 1, ctx).allowed);
  Request(&bucket, 0);
  for (int i = 1; i < 15; ++i) Check(&bucket, rule, i * 10000, 1, ctx);
  bucket.ApplyGrant(rule, 0, 9, 2 * kSec, 2 * kMs, ctx);
  // 2.2 s later: the lease lapsed, the share is full again.
  const int64_t t = 2200 * kMs;
  int admitted = Check(&bucket, rule, t, 1, ctx).allowed ? 1 : 0;
  Request(&bucket, t);
  for (int i = 1; i < 4; ++i) {
    admitted += Check(&bucket, rule, t + i * 100000, 1, ctx).allowed ? 1 : 0;
  }
  // The controller's budget was full: it charged the request's unleased
  // token and granted the other 9, of which the 3 admitted from the share
  // meanwhile are netted.
  bucket.ApplyGrant(rule, t, 9, 2 * kSec, t + 2 * kMs, ctx);
  for (int i = 0; i < 11; ++i) {
    admitted +=
        Check(&bucket, rule, t + 2 * kMs + i * 100000, 1, ctx).allowed ? 1 : 0;
  }
  EXPECT_EQ(admitted, 10);
}

// Checks refused while the request is in flight (the share ran out before
// the grant came) waited for that grant: it is released at once, not
// paced as a contended bucket's.
TEST(LocalBucketRetryTest, RefusalsWhileTheRequestIsInFlightDoNotPaceIt) {
  const Rule rule = TenPerSecond();
  const LeaseContext ctx{true, 2};  // share: 5 tokens, the budget 10
  LocalBucket bucket(rule, 0, ctx);
  ASSERT_TRUE(Check(&bucket, rule, 0, 1, ctx).allowed);
  Request(&bucket, 0);
  int admitted = 1;
  for (int i = 1; i < 6; ++i) {
    admitted += Check(&bucket, rule, i * 100000, 1, ctx).allowed ? 1 : 0;
  }
  EXPECT_EQ(admitted, 5);  // the share; the sixth check was refused
  // The other agent is idle: the controller charged the request's
  // unleased token and granted the other 9 (4 are netted).
  bucket.ApplyGrant(rule, 0, 9, 2 * kSec, 2 * kMs, ctx);
  for (int i = 0; i < 8; ++i) {
    admitted += Check(&bucket, rule, 2 * kMs + i * 100000, 1, ctx).allowed;
  }
  EXPECT_EQ(admitted, 10);
}

// A bucket refused within its last report window, when that window was a
// contended one's (shorter than the 200 ms credit horizon), is still
// paced: its grant is released over 50 ms.
TEST(LocalBucketRetryTest, RecentRefusalsStillPaceTheGrant) {
  const Rule rule = TenPerSecond();
  const LeaseContext ctx{true, 1};
  LocalBucket bucket(rule, 0, ctx);
  SpendTheShare(&bucket, rule, ctx);
  Request(&bucket, 0);
  bucket.ApplyGrant(rule, 0, 0, 2 * kSec, 1 * kMs, ctx);
  Check(&bucket, rule, 10 * kMs, 1, ctx);  // refused: the share is empty
  Request(&bucket, 100 * kMs);             // carries the refusal
  bucket.ApplyGrant(rule, 100 * kMs, 4, 2 * kSec, 101 * kMs, ctx);
  // 25 ms after the request, half the grant is released.
  EXPECT_EQ(bucket.LeaseTokens(125 * kMs), 4);
  int admitted = 0;
  for (int i = 0; i < 4; ++i) {
    admitted += Check(&bucket, rule, 125 * kMs, 1, ctx).allowed ? 1 : 0;
  }
  EXPECT_EQ(admitted, 2);
}

TEST(LocalBucketRetryTest, ALapsedLeaseIsDecidedFromTheShareOfTheRefill) {
  const Rule rule = TenPerSecond();
  const LeaseContext ctx{true, 2};  // share: 5 tokens, 5/s
  LocalBucket bucket(rule, 0, ctx);
  Request(&bucket, 0);
  bucket.ApplyGrant(rule, 0, 4, kSec, 1 * kMs, ctx);  // empties the safe share
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(Check(&bucket, rule, 0, 1, ctx).allowed);
  // 400 ms after the grant: the share of the refill since, 2 tokens.
  EXPECT_TRUE(Check(&bucket, rule, 401 * kMs, 2, ctx).allowed);
  EXPECT_FALSE(Check(&bucket, rule, 401 * kMs, 1, ctx).allowed);
  // After the lease lapsed, the same.
  EXPECT_FALSE(bucket.has_lease(kSec + kMs));
  EXPECT_TRUE(Check(&bucket, rule, 1201 * kMs, 4, ctx).allowed);
}

TEST(LocalBucketRetryTest, WithinTheCreditHorizonOneGrantsWorthPerRequest) {
  // Within 200 ms of its request the agent's share of the refill is its
  // credit at the controller, which comes with the next grant: the safe
  // share may bring forward one grant's worth (charged to that credit),
  // no more; after 200 ms, whatever it holds.
  const Rule rule = MakeRule(1, "api", {{"route", "*"}}, 100, 1000, 100);
  const LeaseContext ctx{true, 2};  // share: 50 tokens, 50/s
  LocalBucket bucket(rule, 0, ctx);
  Request(&bucket, 0);
  bucket.ApplyGrant(rule, 0, 1, kSec, 1 * kMs, ctx);  // empties the share
  ASSERT_TRUE(Check(&bucket, rule, 1 * kMs, 1, ctx).allowed);  // the lease
  EXPECT_TRUE(Check(&bucket, rule, 150 * kMs, 1, ctx).allowed);
  // The share holds 6 more, but they are the next grant's.
  EXPECT_FALSE(Check(&bucket, rule, 160 * kMs, 1, ctx).allowed);
  EXPECT_FALSE(Check(&bucket, rule, 199 * kMs, 1, ctx).allowed);
  EXPECT_TRUE(Check(&bucket, rule, 200 * kMs, 1, ctx).allowed);
  // A grant of nothing: nothing to bring forward until 200 ms.
  Request(&bucket, 400 * kMs);
  bucket.ApplyGrant(rule, 400 * kMs, 0, kSec, 401 * kMs, ctx);
  EXPECT_FALSE(Check(&bucket, rule, 599 * kMs, 1, ctx).allowed);
  EXPECT_TRUE(Check(&bucket, rule, 600 * kMs, 1, ctx).allowed);
}

// The only agent eats into no one's refill: behind a spent lease, its
// share decides at once, also within 200 ms of its request. A burst that
// spent its lease and sent its request goes on from the share while the
// grant is on its way (it was refused after one grant's worth).
TEST(LocalBucketRetryTest, TheOnlyAgentSpendsItsShareWhileTheGrantIsOnItsWay) {
  const Rule rule = TenPerSecond();
  const LeaseContext ctx{true, 1};
  LocalBucket bucket(rule, 0, ctx);
  Request(&bucket, 0);
  bucket.ApplyGrant(rule, 0, 2, 2 * kSec, 1 * kMs, ctx);  // valid until 2 s
  // 1.1 s later the budget is full: 2 leased, 8 more in the share.
  int admitted = 0;
  for (int i = 0; i < 15; ++i) {
    const int64_t now = 1100 * kMs + i * kMs;
    if (i == 3) Request(&bucket, now);  // the grant has not come back
    admitted += Check(&bucket, rule, now, 1, ctx).allowed ? 1 : 0;
  }
  EXPECT_EQ(admitted, 10);
}

// The only agent's share mirrors the whole budget, and a grant is part of
// it: a grant smaller than the budget (as asked for a burst's first
// checks) does not empty the share; what the lease admits drains it.
// (Emptied, the burst was refused after the grant, the budget still full.)
TEST(LocalBucketRetryTest, TheOnlyAgentsGrantDoesNotEmptyItsShare) {
  const Rule rule = TenPerSecond();
  const LeaseContext ctx{true, 1};
  LocalBucket bucket(rule, 0, ctx);
  Request(&bucket, 0);
  bucket.ApplyGrant(rule, 0, 4, 2 * kSec, 1 * kMs, ctx);
  int admitted = 0;
  for (int i = 0; i < 15; ++i) {
    admitted += Check(&bucket, rule, 2 * kMs, 1, ctx).allowed ? 1 : 0;
  }
  EXPECT_EQ(admitted, 10);
  EXPECT_EQ(bucket.LeaseTokens(2 * kMs), 0);
  // With two agents the grant holds this agent's credit: the share is
  // emptied, and behind the lease only the refill since comes.
  const LeaseContext two{true, 2};
  LocalBucket shared(rule, 0, two);
  Request(&shared, 0);
  shared.ApplyGrant(rule, 0, 4, 2 * kSec, 1 * kMs, two);
  admitted = 0;
  for (int i = 0; i < 15; ++i) {
    admitted += Check(&shared, rule, 2 * kMs, 1, two).allowed ? 1 : 0;
  }
  EXPECT_EQ(admitted, 4);
}

// A reply with no lease (ttl 0: the bucket is held by a controller that
// just gained it, not owned, fenced) ends a spent lease: the safe share
// admits at once instead of waiting for that lease's expiry while the
// agent keeps asking. A lease with tokens left is kept and spent first.
TEST(LocalBucketRetryTest, NoLeaseReplyEndsASpentLeaseForTheSafeShare) {
  const Rule rule = TenPerSecond();
  const LeaseContext ctx{true, 2};  // share: 5 tokens, 5/s
  LocalBucket bucket(rule, 0, ctx);
  Request(&bucket, 0);
  bucket.ApplyGrant(rule, 0, 2, kSec, 1 * kMs, ctx);
  Request(&bucket, 50 * kMs);
  bucket.ApplyGrant(rule, 50 * kMs, 0, 0, 51 * kMs, ctx);  // tokens left: kept
  EXPECT_TRUE(bucket.has_lease(52 * kMs));
  ASSERT_TRUE(Check(&bucket, rule, 52 * kMs, 1, ctx).allowed);
  ASSERT_TRUE(Check(&bucket, rule, 53 * kMs, 1, ctx).allowed);
  EXPECT_EQ(bucket.LeaseTokens(54 * kMs), 0);
  Request(&bucket, 100 * kMs);
  bucket.ApplyGrant(rule, 100 * kMs, 0, 0, 101 * kMs, ctx);  // spent: ended
  EXPECT_FALSE(bucket.has_lease(101 * kMs));
  // The safe share holds the refill since the lease was spent (at 53 ms,
  // which took what had accrued since the grant): a token at 253 ms, long
  // before the lease's expiry at 1 s, and within 200 ms of the request.
  EXPECT_FALSE(Check(&bucket, rule, 250 * kMs, 1, ctx).allowed);
  EXPECT_TRUE(Check(&bucket, rule, 255 * kMs, 1, ctx).allowed);
}

struct SpreadCase {
  std::string name;
  int64_t agents;
  int64_t cost;
  std::vector<int64_t> retry_ms;  // of successive refusals at one instant
};

class RetrySpreadTest : public ::testing::TestWithParam<SpreadCase> {};

TEST_P(RetrySpreadTest, SuccessiveRefusalsGetSuccessiveTurns) {
  const SpreadCase& c = GetParam();
  const Rule rule = TenPerSecond();
  const LeaseContext ctx{true, c.agents};
  LocalBucket bucket(rule, 0, ctx);
  SpendTheShare(&bucket, rule, ctx);
  std::vector<int64_t> got;
  for (size_t i = 0; i < c.retry_ms.size(); ++i) {
    got.push_back(Check(&bucket, rule, 0, c.cost, ctx).retry_after_ms);
  }
  EXPECT_EQ(got, c.retry_ms);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RetrySpreadTest,
    ::testing::Values(
        // One agent: a token every 100 ms; the queue holds one burst's
        // refill (1 s), then every refusal is told the cap.
        SpreadCase{
            "one_agent",
            1,
            1,
            {100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1000, 1000}},
        // Two agents: the share refills at 5/s, a token every 200 ms, and
        // one burst's refill takes 2 s.
        SpreadCase{
            "two_agents",
            2,
            1,
            {200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800, 2000, 2000}},
        // Cost 3: each turn is 3 tokens (300 ms at 10/s).
        SpreadCase{"cost_3", 1, 3, {300, 600, 900, 1000}}),
    [](const ::testing::TestParamInfo<SpreadCase>& info) {
      return info.param.name;
    });

TEST(LocalBucketRetryTest, TheQueueOutlivesARequestAndEmptiesAsTurnsPass) {
  const Rule rule = TenPerSecond();
  const LeaseContext ctx{true, 1};
  LocalBucket bucket(rule, 0, ctx);
  SpendTheShare(&bucket, rule, ctx);
  EXPECT_EQ(Check(&bucket, rule, 0, 1, ctx).retry_after_ms, 100);
  EXPECT_EQ(Check(&bucket, rule, 0, 1, ctx).retry_after_ms, 200);
  EXPECT_EQ(Check(&bucket, rule, 0, 1, ctx).retry_after_ms, 300);
  // A request moves the report window: the queue's end (300 ms) stays.
  Request(&bucket, 50 * kMs);
  EXPECT_EQ(Check(&bucket, rule, 50 * kMs, 5, ctx).retry_after_ms, 750);
  // Once its turns have passed (and the share refilled), a refusal is told
  // when its own cost is there.
  SpendTheShare(&bucket, rule, ctx, 2 * kSec);
  EXPECT_EQ(Check(&bucket, rule, 2 * kSec, 2, ctx).retry_after_ms, 200);
}

TEST(LocalBucketRetryTest, NoTurnComesBeforeTheTokensCouldBeThere) {
  // 3 a minute: a token every 20 s, beyond the queue's 8.2 s reach.
  const Rule rule = MakeRule(1, "api", {{"route", "*"}}, 3, 60000, 3);
  const LeaseContext ctx{true, 1};
  LocalBucket bucket(rule, 0, ctx);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(Check(&bucket, rule, 0, 1, ctx).allowed);
  EXPECT_EQ(Check(&bucket, rule, 0, 1, ctx).retry_after_ms, 20000);
  EXPECT_EQ(Check(&bucket, rule, 0, 1, ctx).retry_after_ms, 20000);
  EXPECT_EQ(Check(&bucket, rule, 1 * kSec, 1, ctx).retry_after_ms, 19000);
}

TEST(LocalBucketRetryTest, NeverAndClosedAreNotQueued) {
  const Rule rule = TenPerSecond(FailureMode::kClosed);
  LocalBucket bucket(rule, 0, LeaseContext{true, 1});
  EXPECT_EQ(Check(&bucket, rule, 0, 11, LeaseContext{true, 1}).retry_after_ms,
            -1);
  const LeaseContext away{false, 1};
  EXPECT_EQ(Check(&bucket, rule, 0, 1, away).retry_after_ms, 1000);
  EXPECT_EQ(Check(&bucket, rule, 0, 1, away).retry_after_ms, 1000);
}

}  // namespace
}  // namespace sluice
