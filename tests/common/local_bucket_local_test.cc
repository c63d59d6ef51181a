// Buckets decided locally (LocalBucket::NeedsLease): a bucket used far
// below its safe share asks for no lease and only reports, at half a share
// or after LeaseTiming::quiet_report_ns; it asks for a lease once its share
// falls below half or a check is refused.
#include <gtest/gtest.h>

#include "common/allocator.h"
#include "common/clock.h"
#include "common/local_bucket.h"
#include "tests/common/test_rule.h"

namespace sluice {
namespace {

using testing_rules::MakeRule;

constexpr int64_t kMs = kNanosPerMilli;
constexpr int64_t kSec = kNanosPerSecond;

// Burst 100, 100/s.
Rule HundredRule() { return MakeRule(1, "api", {{"client", "*"}}, 100, 1000); }

struct Sent {
  int64_t admitted = 0, refused = 0, unleased = 0;
};

// One admitted (or refused) check of cost 1.
bool Check(LocalBucket* bucket, const Rule& rule, int64_t now,
           const LeaseContext& ctx) {
  Decision d;
  if (bucket->CanTake(rule, now, 1, ctx, &d)) {
    bucket->Take(rule, now, 1, ctx, &d);
    return true;
  }
  bucket->Refuse(rule, now, 1, ctx, &d);
  return false;
}

TEST(LocalDecisionTest, ABucketFarBelowItsShareAsksForNothing) {
  const Rule rule = HundredRule();
  const LeaseContext ctx{true, 1};
  LocalBucket bucket(rule, 0, ctx);
  int64_t want = -1;
  // 20 checks in one go: the share (100) still holds more than half.
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(Check(&bucket, rule, 0, ctx));
  EXPECT_FALSE(bucket.NeedsLease(rule, 0, LeaseTiming(), ctx, &want));
  // A client at 10/s for 2.5 s more: the share stays above half, and 45
  // admitted unreported are below half a share: nothing is sent.
  for (int64_t t = 100 * kMs; t <= 2500 * kMs; t += 100 * kMs) {
    ASSERT_TRUE(Check(&bucket, rule, t, ctx));
    ASSERT_FALSE(bucket.NeedsLease(rule, t, LeaseTiming(), ctx, &want)) << t;
  }
}

TEST(LocalDecisionTest, ItReportsAtHalfAShare) {
  const Rule rule = HundredRule();
  const LeaseContext ctx{true, 2};  // a share of 50: reports at 25
  LocalBucket bucket(rule, 0, ctx);
  int64_t want = -1;
  // Spread over a second, so that the share stays above half.
  for (int i = 0; i < 24; ++i) {
    ASSERT_TRUE(Check(&bucket, rule, i * 40 * kMs, ctx));
    ASSERT_FALSE(
        bucket.NeedsLease(rule, i * 40 * kMs, LeaseTiming(), ctx, &want));
  }
  const int64_t t = 24 * 40 * kMs;
  ASSERT_TRUE(Check(&bucket, rule, t, ctx));
  ASSERT_TRUE(bucket.NeedsLease(rule, t, LeaseTiming(), ctx, &want));
  EXPECT_EQ(want, 0);  // a report, not a request
  Sent sent;
  bucket.MarkReported(t, &sent.admitted, &sent.refused, &sent.unleased);
  EXPECT_EQ(sent.admitted, 25);
  EXPECT_EQ(sent.unleased, 25);
  EXPECT_EQ(sent.refused, 0);
  // No request is in flight: the next report comes as soon as it is due.
  for (int i = 1; i <= 25; ++i) {
    ASSERT_TRUE(Check(&bucket, rule, t + i * 40 * kMs, ctx));
  }
  EXPECT_TRUE(
      bucket.NeedsLease(rule, t + 25 * 40 * kMs, LeaseTiming(), ctx, &want));
  EXPECT_EQ(want, 0);
}

TEST(LocalDecisionTest, ItReportsAfterTheQuietDelayAtTheLatest) {
  const Rule rule = HundredRule();
  const LeaseContext ctx{true, 1};
  LocalBucket bucket(rule, 0, ctx);
  const LeaseTiming timing;  // 5 s
  int64_t want = -1;
  ASSERT_TRUE(Check(&bucket, rule, 0, ctx));
  EXPECT_FALSE(bucket.NeedsLease(rule, 4999 * kMs, timing, ctx, &want));
  EXPECT_FALSE(bucket.NeedsSweepLease(rule, 4999 * kMs, timing, ctx, &want));
  EXPECT_TRUE(bucket.NeedsSweepLease(rule, 5 * kSec, timing, ctx, &want));
  EXPECT_EQ(want, 0);
  // Not idle (not evicted) before its report is out.
  EXPECT_FALSE(bucket.Idle(rule, 5 * kSec, timing));
  Sent sent;
  bucket.MarkReported(5 * kSec, &sent.admitted, &sent.refused, &sent.unleased);
  EXPECT_EQ(sent.unleased, 1);
  EXPECT_TRUE(bucket.Idle(rule, 5 * kSec, timing));
}

// The only agent of the budget leaves its quiet report to the sweep (which
// drops it when moot); with others spending the budget a check sends it.
TEST(LocalDecisionTest, AloneTheQuietReportIsTheSweeps) {
  const Rule rule = HundredRule();
  const LeaseTiming timing;  // 5 s
  for (const int64_t agents : {1, 2}) {
    const LeaseContext ctx{true, agents};
    LocalBucket bucket(rule, 0, ctx);
    int64_t want = -1;
    ASSERT_TRUE(Check(&bucket, rule, 0, ctx));
    ASSERT_TRUE(Check(&bucket, rule, 5 * kSec, ctx));
    EXPECT_EQ(bucket.NeedsLease(rule, 5 * kSec, timing, ctx, &want), agents > 1)
        << agents << " agents";
    EXPECT_TRUE(bucket.NeedsSweepLease(rule, 5 * kSec, timing, ctx, &want))
        << agents << " agents";
    EXPECT_EQ(want, 0);
  }
}

TEST(LocalDecisionTest, BelowHalfAShareItAsksForALease) {
  const Rule rule = HundredRule();
  const LeaseContext ctx{true, 1};
  LocalBucket bucket(rule, 0, ctx);
  int64_t want = -1;
  for (int i = 0; i < 51; ++i) ASSERT_TRUE(Check(&bucket, rule, 0, ctx));
  ASSERT_TRUE(bucket.NeedsLease(rule, 0, LeaseTiming(), ctx, &want));
  // 51 checks in the minimum 100 ms window: 510/s for 1 s, capped at burst.
  EXPECT_EQ(want, 100);
  Sent sent;
  bucket.MarkRequested(0, &sent.admitted, &sent.refused, &sent.unleased);
  EXPECT_EQ(sent.unleased, 51);  // what the share admitted is charged
  // The grant nets what the share admitted meanwhile.
  ASSERT_TRUE(Check(&bucket, rule, 1 * kMs, ctx));
  bucket.ApplyGrant(rule, 0, 50, 2 * kSec, 2 * kMs, ctx);
  EXPECT_EQ(bucket.LeaseTokens(2 * kMs), 49);
}

TEST(LocalDecisionTest, ARefusalAsksForALease) {
  // Cost above the share's capacity (burst 100 over 4 agents: 25).
  const Rule rule = HundredRule();
  const LeaseContext ctx{true, 4};
  LocalBucket bucket(rule, 0, ctx);
  Decision d;
  ASSERT_FALSE(bucket.CanTake(rule, 0, 30, ctx, &d));
  bucket.Refuse(rule, 0, 30, ctx, &d);
  int64_t want = -1;
  ASSERT_TRUE(bucket.NeedsLease(rule, 0, LeaseTiming(), ctx, &want));
  EXPECT_EQ(want, 100);
}

TEST(LocalDecisionTest, NoTokensAnsweringAReportChangeNothing) {
  // A controller that answers a report with an empty lease (valid, 0
  // tokens) must not shut the share (a valid lease of 0 tokens would).
  const Rule rule = HundredRule();
  const LeaseContext ctx{true, 1};
  LocalBucket bucket(rule, 0, ctx);
  ASSERT_TRUE(Check(&bucket, rule, 0, ctx));
  Sent sent;
  bucket.MarkReported(5 * kSec, &sent.admitted, &sent.refused, &sent.unleased);
  bucket.ApplyGrant(rule, 5 * kSec, 0, 2 * kSec, 5 * kSec + kMs, ctx);
  EXPECT_FALSE(bucket.has_lease(5 * kSec + kMs));
  EXPECT_TRUE(Check(&bucket, rule, 5 * kSec + 2 * kMs, ctx));
}

TEST(LocalDecisionTest, OffEveryUsedBucketAsks) {
  const Rule rule = HundredRule();
  const LeaseContext ctx{true, 1};
  LocalBucket bucket(rule, 0, ctx);
  LeaseTiming timing;
  timing.decide_locally = false;
  ASSERT_TRUE(Check(&bucket, rule, 0, ctx));
  int64_t want = -1;
  ASSERT_TRUE(bucket.NeedsLease(rule, 0, timing, ctx, &want));
  EXPECT_EQ(want, 10);  // one check in the minimum window of 100 ms, for 1 s
}

// A fresh bucket of a slow per-client rule (20 an hour) and a client
// checking faster than the round trip: the first request goes once the
// share is half spent and carries what it admitted, so the budget's burst
// is admitted whole before any refusal, and no more (a first request at
// the first check, sized by one check's demand, got a grant that emptied
// a share still holding more than it brought: the client was refused
// until the next grant with tokens left in the budget).
TEST(LocalDecisionTest, AFastClientOfAFreshBucketGetsTheWholeBurst) {
  const Rule rule =
      testing_rules::MakeRule(1, "api", {{"client", "*"}}, 20, 3600 * 1000, 20);
  const LeaseContext ctx{true, 1};
  AllocatorOptions options;
  BucketAllocator budget(rule, 0, &options, BucketAllocator::Start::kFull);
  LocalBucket bucket(rule, 0, ctx);
  const LeaseTiming timing;  // (decide_locally off: refused after 11)
  int admitted = 0;
  int admitted_before_refusal = -1;
  int64_t in_flight_at = -1;  // a request waiting for its grant (1 ms)
  LeaseReport sent;
  for (int64_t t = 0; t < 100 * kMs; t += 100 * 1000) {  // every 0.1 ms
    if (in_flight_at >= 0 && t >= in_flight_at + kMs) {
      const LeaseOffer offer = budget.Grant(1, t, sent);
      bucket.ApplyGrant(rule, in_flight_at, offer.tokens, offer.ttl_ns, t, ctx);
      in_flight_at = -1;
    }
    if (Check(&bucket, rule, t, ctx)) {
      ++admitted;
    } else if (admitted_before_refusal < 0) {
      admitted_before_refusal = admitted;
    }
    int64_t want = 0;
    if (in_flight_at >= 0 || !bucket.NeedsLease(rule, t, timing, ctx, &want)) {
      continue;
    }
    sent = LeaseReport{};
    sent.want = want;
    if (want == 0) {  // a report (at half a share): no answer
      bucket.MarkReported(t, &sent.admitted, &sent.refused, &sent.unleased);
      budget.Report(1, t + kMs, sent);
      continue;
    }
    bucket.MarkRequested(t, &sent.admitted, &sent.refused, &sent.unleased);
    in_flight_at = t;
  }
  EXPECT_EQ(admitted, 20);
  // No refusal while the budget still held tokens for this client.
  EXPECT_EQ(admitted_before_refusal, 20);
}

// ReportMoot: the quiet report of the only agent of a budget, once its
// bucket has refilled, tells the controller nothing it needs.
TEST(LocalDecisionTest, AloneAndRefilledTheQuietReportIsMoot) {
  const Rule rule = HundredRule();  // refills 10 tokens in 100 ms
  const LeaseContext alone{true, 1};
  const LeaseTiming timing;  // quiet after 5 s
  LocalBucket bucket(rule, 0, alone);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(Check(&bucket, rule, 0, alone));
  EXPECT_FALSE(bucket.ReportMoot(rule, 4999 * kMs, timing, alone));  // young
  EXPECT_TRUE(bucket.ReportMoot(rule, 5 * kSec, timing, alone));
  // Another agent spends the same budget: the report charges it.
  EXPECT_FALSE(
      bucket.ReportMoot(rule, 5 * kSec, timing, LeaseContext{true, 2}));
  // Every bucket asks for leases: nothing is decided locally.
  LeaseTiming leasing = timing;
  leasing.decide_locally = false;
  EXPECT_FALSE(bucket.ReportMoot(rule, 5 * kSec, leasing, alone));
  // Reported: nothing left to drop.
  Sent sent;
  bucket.MarkReported(5 * kSec, &sent.admitted, &sent.refused, &sent.unleased);
  EXPECT_FALSE(bucket.ReportMoot(rule, 20 * kSec, timing, alone));
  EXPECT_TRUE(bucket.Idle(rule, 20 * kSec, timing));
}

TEST(LocalDecisionTest, NotRefilledRefusedOrLeasedTheReportIsNotMoot) {
  const LeaseContext alone{true, 1};
  const LeaseTiming timing;
  // 100 an hour: 10 checks are not refilled 5 s later.
  const Rule slow = MakeRule(1, "api", {{"client", "*"}}, 100, 3'600'000);
  LocalBucket slow_bucket(slow, 0, alone);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(Check(&slow_bucket, slow, 0, alone));
  }
  EXPECT_FALSE(slow_bucket.ReportMoot(slow, 5 * kSec, timing, alone));
  // A refused check: the controller must hear of the demand.
  const Rule rule = HundredRule();
  LocalBucket refused(rule, 0, alone);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(Check(&refused, rule, 0, alone));
  ASSERT_FALSE(Check(&refused, rule, 0, alone));
  EXPECT_FALSE(refused.ReportMoot(rule, 10 * kSec, timing, alone));
  // A valid lease: its spending is the controller's to account.
  LocalBucket leased(rule, 0, alone);
  ASSERT_TRUE(Check(&leased, rule, 0, alone));
  Sent sent;
  leased.MarkRequested(0, &sent.admitted, &sent.refused, &sent.unleased);
  leased.ApplyGrant(rule, 0, 50, 10 * kSec, kMs, alone);
  ASSERT_TRUE(Check(&leased, rule, kMs, alone));
  EXPECT_FALSE(leased.ReportMoot(rule, 6 * kSec, timing, alone));
}

}  // namespace
}  // namespace sluice
