#include "agent/check/checker.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/bucket_key.h"
#include "common/clock.h"
#include "tests/agent/allocation_counter.h"
#include "tests/common/test_timing.h"

namespace sluice {
namespace {

constexpr int64_t kMs = kNanosPerMilli;

Rule MakeRule(int64_t id,
              std::vector<std::pair<std::string, std::string>> match,
              int64_t limit, int64_t burst, int64_t period_ms = 1000,
              RuleMode mode = RuleMode::kEnforce) {
  Rule rule;
  rule.id = id;
  rule.version = 1;
  rule.name = "rule-" + std::to_string(id);
  rule.domain = "api";
  rule.match = std::move(match);
  rule.limit = limit;
  rule.period_ms = period_ms;
  rule.burst = burst;
  rule.mode = mode;
  return rule;
}

class CheckerTest : public ::testing::Test {
 protected:
  void Install(std::vector<Rule> rules, int64_t version = 1) {
    checker_.SetRules(RuleIndex::Build(std::move(rules), version), now_);
  }

  Decision Check(Descriptor d, int64_t cost = 1,
                 std::string_view domain = "api") {
    Decision out;
    EXPECT_EQ(checker_.Check(domain, cost, d, now_, &out),
              Checker::Result::kDone);
    return out;
  }

  // The decision counters of rule `id`.
  RuleDecisionCounts Counts(int64_t id) {
    const auto& rules = checker_.rules()->rules();
    for (size_t i = 0; i < rules.size(); ++i) {
      if (rules[i].id == id) return checker_.decision_counts()[i];
    }
    ADD_FAILURE() << "no rule " << id;
    return {};
  }

  // Client "a" of rule 1 (per client, 10/s, burst 100) is checked once and
  // asks for a lease; the grant holds 40 tokens for `ttl_ms` from now (the
  // request's time), plus the `others` items. Returns the buckets it
  // applied to; the clock moves 1 ms (the grant's arrival).
  size_t LeaseForA(int64_t ttl_ms, std::vector<LeaseGrantItem> others = {}) {
    Install({MakeRule(1, {{"client_id", "*"}}, 10, 100)});
    Check({{"client_id", "a"}});
    std::vector<LeaseWant> wants;
    checker_.TakeLeaseWants(now_, &wants);
    EXPECT_EQ(wants.size(), 1u);
    LeaseGrant grant;
    grant.items.push_back(LeaseGrantItem{1, {"a"}, 40, ttl_ms});
    for (LeaseGrantItem& item : others) grant.items.push_back(std::move(item));
    const size_t applied = checker_.ApplyGrant(grant, now_, now_ + kMs);
    now_ += kMs;
    return applied;
  }

  // The subject is the lease exchange: every bucket used asks.
  Checker checker_{1000, testing_timing::LeaseEveryBucket()};
  int64_t now_ = 1000 * kNanosPerSecond;
};

void ExpectDecision(const Decision& d, bool allowed, int64_t limit,
                    int64_t remaining, int64_t retry_after_ms) {
  EXPECT_EQ(d.allowed, allowed);
  EXPECT_EQ(d.limit, limit);
  EXPECT_EQ(d.remaining, remaining);
  EXPECT_EQ(d.retry_after_ms, retry_after_ms);
}

TEST_F(CheckerTest, NoMatchingRuleAllows) {
  Install({MakeRule(1, {{"client_id", "*"}}, 10, 10)});
  Decision d = Check({{"route", "/x"}});
  ExpectDecision(d, true, -1, -1, 0);
  EXPECT_EQ(d.reset_after_ms, 0);
  ExpectDecision(Check({{"client_id", "1"}}, 1, "other"), true, -1, -1, 0);
  EXPECT_EQ(checker_.table().size(), 0u);
}

TEST_F(CheckerTest, EnforcesLimitAndRefills) {
  Install({MakeRule(1, {{"client_id", "*"}}, 10, 5)});  // 10/s, burst 5
  for (int i = 4; i >= 0; --i) {
    Decision d = Check({{"client_id", "42"}});
    ExpectDecision(d, true, 10, i, 0);
  }
  Decision refused = Check({{"client_id", "42"}});
  ExpectDecision(refused, false, 10, 0, 100);  // one token per 100 ms
  EXPECT_EQ(refused.reset_after_ms, 500);
  now_ += 100 * kMs;
  ExpectDecision(Check({{"client_id", "42"}}), true, 10, 0, 0);
  EXPECT_EQ(Counts(1).allowed, 6);
  EXPECT_EQ(Counts(1).refused, 1);
}

TEST_F(CheckerTest, WildcardGivesEachValueItsOwnBucket) {
  Install({MakeRule(1, {{"client_id", "*"}}, 10, 2)});
  Check({{"client_id", "a"}});
  Check({{"client_id", "a"}});
  EXPECT_FALSE(Check({{"client_id", "a"}}).allowed);
  ExpectDecision(Check({{"client_id", "b"}}), true, 10, 1, 0);
  EXPECT_EQ(checker_.table().size(), 2u);
}

TEST_F(CheckerTest, ExactValueSharesOneBucketAcrossOtherKeys) {
  Install({MakeRule(1, {{"route", "/search"}}, 10, 2)});
  Check({{"route", "/search"}, {"client_id", "a"}});
  Check({{"route", "/search"}, {"client_id", "b"}});
  EXPECT_FALSE(Check({{"route", "/search"}, {"client_id", "c"}}).allowed);
  EXPECT_EQ(checker_.table().size(), 1u);
}

// Rule 1: per route, burst 5. Rule 2: per client, burst 3.
class AndTest : public CheckerTest {
 protected:
  void SetUp() override {
    Install({MakeRule(1, {{"route", "*"}}, 50, 5),
             MakeRule(2, {{"client_id", "*"}}, 30, 3)});
  }
  Descriptor both_ = {{"route", "/search"}, {"client_id", "42"}};
};

TEST_F(AndTest, AdmittedOnlyWhenEveryRuleAdmits) {
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Check(both_).allowed);
  Decision d = Check(both_);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.limit, 30);  // the client rule refused
}

TEST_F(AndTest, TakesFromAllOrNone) {
  for (int i = 0; i < 3; ++i) Check(both_);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(Check(both_).allowed);
  // The route bucket gave 3 and kept 2: the refusals took nothing from it.
  ExpectDecision(Check({{"route", "/search"}}, 0), true, 50, 2, 0);
  EXPECT_EQ(Counts(1).allowed, 3);
  EXPECT_EQ(Counts(1).refused, 0);  // never the cause
  EXPECT_EQ(Counts(2).allowed, 3);
  EXPECT_EQ(Counts(2).refused, 4);
}

// A per-client rule and a route rule on the same check, both leased: the
// checks the route rule refuses spend nothing of the per-client bucket, and
// count no demand on it (which would make it look contended and pace its
// lease, refusing the client's other routes).
TEST_F(CheckerTest, ChecksARouteRuleRefusesSpendNothingPerClient) {
  Install({MakeRule(1, {{"client_id", "*"}}, 100, 100),
           MakeRule(2, {{"client_id", "*"}, {"route", "/search"}}, 10, 10)});
  const Descriptor search = {{"client_id", "42"}, {"route", "/search"}};
  const Descriptor home = {{"client_id", "42"}, {"route", "/home"}};
  Check(search);  // both buckets: 1 from each safe share
  std::vector<LeaseWant> wants;
  checker_.TakeLeaseWants(now_, &wants);
  ASSERT_EQ(wants.size(), 2u);
  LeaseGrant grant;
  for (const LeaseWant& w : wants) {
    grant.items.push_back(
        LeaseGrantItem{w.rule_id, w.values, w.rule_id == 1 ? 100 : 9, 2000});
  }
  ASSERT_EQ(checker_.ApplyGrant(grant, now_, now_ + kMs), 2u);
  now_ += kMs;
  int admitted = 0;
  for (int i = 0; i < 30; ++i) admitted += Check(search).allowed ? 1 : 0;
  EXPECT_EQ(admitted, 9);  // the route's lease; its safe share is spent
  EXPECT_EQ(Counts(2).refused, 21);
  EXPECT_EQ(Counts(1).refused, 0);
  // The per-client bucket gave 9 (the netted check was the safe share's)
  // and kept the rest, all of it usable at once.
  ExpectDecision(Check(home, 0), true, 100, 91, 0);
  for (int i = 0; i < 91; ++i) ASSERT_TRUE(Check(home).allowed) << i;
  // Its next report: only what it admitted, no refused demand. (300 ms
  // on, the lease spent, the safe share decides.)
  now_ += 300 * kMs;
  checker_.Sweep(now_, 100, &wants);
  wants.clear();
  Check(home);
  checker_.TakeLeaseWants(now_, &wants);
  int reports = 0;
  for (const LeaseWant& w : wants) {
    if (w.rule_id != 1) continue;
    ++reports;
    EXPECT_EQ(w.refused, 0);
  }
  EXPECT_EQ(reports, 1);
}

TEST_F(AndTest, AdmittedReplyReportsTheLeastRemaining) {
  ExpectDecision(Check(both_), true, 30, 2, 0);  // client: 2 left, route: 4
  // Drain the route bucket on another client: now the route has fewer.
  Check({{"route", "/search"}, {"client_id", "7"}}, 3);
  ExpectDecision(Check(both_), true, 50, 0, 0);
}

TEST_F(AndTest, RefusedReplyReportsTheLongestRetry) {
  // Route bucket (50/s) empty: retry 20 ms. Client bucket (30/s) empty:
  // retry 34 ms (1 token at 30/s, rounded up).
  Check({{"route", "/search"}}, 5);
  Check({{"client_id", "42"}}, 3);
  Decision d = Check(both_);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.limit, 30);
  EXPECT_EQ(d.retry_after_ms, 34);
}

TEST_F(AndTest, NeverBeatsAnyRetry) {
  // cost 4: over the client rule's burst 3 (never), the route rule could
  // take it; then the route rule empty with a finite retry.
  Decision d = Check(both_, 4);
  ExpectDecision(d, false, 30, 3, -1);
  Check({{"route", "/search"}}, 5);  // route empty: finite retry
  d = Check(both_, 4);
  EXPECT_EQ(d.retry_after_ms, -1);
  EXPECT_EQ(d.limit, 30);
}

TEST_F(CheckerTest, NeverAlsoWinsWhenItsRuleComesLast) {
  // Match order is by key group: client_id before route. The route rule
  // says "never" (cost 5 > burst 3); the client rule comes first with a
  // long but finite retry.
  Install({MakeRule(1, {{"route", "*"}}, 30, 3),
           MakeRule(2, {{"client_id", "*"}}, 1, 10, 10000)});
  Check({{"client_id", "1"}}, 10);  // client empty: 5 tokens take 50 s
  Decision d = Check({{"route", "/r"}, {"client_id", "1"}}, 5);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_ms, -1);
  EXPECT_EQ(d.limit, 30);
}

TEST_F(CheckerTest, CostOverBurstIsRefusedForeverAndTakesNothing) {
  Install({MakeRule(1, {{"client_id", "*"}}, 10, 5)});
  Decision d = Check({{"client_id", "1"}}, 6);
  ExpectDecision(d, false, 10, 5, -1);
  ExpectDecision(Check({{"client_id", "1"}}, 5), true, 10, 0, 0);
}

TEST_F(CheckerTest, CostZeroPeeksWithoutTakingCountingOrCreating) {
  Install({MakeRule(1, {{"client_id", "*"}}, 10, 5)});
  Decision d = Check({{"client_id", "1"}}, 0);
  ExpectDecision(d, true, 10, 5, 0);  // as a fresh bucket would be
  EXPECT_EQ(d.reset_after_ms, 0);
  EXPECT_EQ(checker_.table().size(), 0u);
  Check({{"client_id", "1"}}, 3);
  d = Check({{"client_id", "1"}}, 0);
  ExpectDecision(d, true, 10, 2, 0);
  EXPECT_EQ(d.reset_after_ms, 300);
  d = Check({{"client_id", "1"}}, 0);
  EXPECT_EQ(d.remaining, 2);  // a peek takes nothing
  EXPECT_EQ(Counts(1).allowed, 1);
  EXPECT_EQ(Counts(1).refused, 0);
  EXPECT_EQ(checker_.pending_leases(), 1u);  // from the real check only
}

TEST_F(CheckerTest, ShadowRuleAllowsAndCountsWouldBeRefusals) {
  Install({MakeRule(1, {{"client_id", "*"}}, 10, 10),
           MakeRule(2, {{"route", "*"}}, 1, 1, 1000, RuleMode::kShadow)});
  Descriptor d = {{"client_id", "1"}, {"route", "/r"}};
  for (int i = 0; i < 3; ++i) {
    Decision out = Check(d);
    EXPECT_TRUE(out.allowed);
    EXPECT_EQ(out.limit, 10);  // the shadow rule never shows
  }
  EXPECT_EQ(Counts(1).allowed, 3);
  EXPECT_EQ(Counts(2).allowed, 1);
  EXPECT_EQ(Counts(2).shadow_refused, 2);
  EXPECT_EQ(Counts(2).refused, 0);
}

TEST_F(CheckerTest, ShadowOnlyMatchLooksLikeNoRule) {
  Install({MakeRule(2, {{"route", "*"}}, 1, 1, 1000, RuleMode::kShadow)});
  for (int i = 0; i < 3; ++i) {
    ExpectDecision(Check({{"route", "/r"}}), true, -1, -1, 0);
  }
  EXPECT_EQ(Counts(2).allowed, 1);
  EXPECT_EQ(Counts(2).shadow_refused, 2);
}

TEST_F(CheckerTest, ShadowTakesNothingWhenAnEnforceRuleRefuses) {
  Rule enforce = MakeRule(1, {{"client_id", "*"}}, 10, 1);
  Rule shadow = MakeRule(2, {{"route", "*"}}, 5, 5, 1000, RuleMode::kShadow);
  Install({enforce, shadow});
  Descriptor d = {{"client_id", "1"}, {"route", "/r"}};
  Check(d);
  EXPECT_FALSE(Check(d).allowed);
  EXPECT_FALSE(Check(d).allowed);
  EXPECT_EQ(Counts(2).allowed, 1);
  EXPECT_EQ(Counts(2).shadow_refused, 0);
  // Turn the shadow rule into an enforce rule (its bucket is kept) to see
  // its bucket: it gave 1 of 5, the refused checks took nothing.
  shadow.mode = RuleMode::kEnforce;
  shadow.version = 2;
  Install({enforce, shadow}, 2);
  EXPECT_EQ(Check({{"route", "/r"}}, 0).remaining, 4);
}

TEST_F(CheckerTest, MostSpecificRuleOfAGroupApplies) {
  Install({MakeRule(1, {{"client_id", "*"}}, 10, 10),
           MakeRule(2, {{"client_id", "acme"}}, 1000, 1000)});
  EXPECT_EQ(Check({{"client_id", "acme"}}).limit, 1000);
  EXPECT_EQ(Check({{"client_id", "other"}}).limit, 10);
}

TEST_F(CheckerTest, BucketCapRefusesNewBucketsOnly) {
  Checker small(2);
  small.SetRules(
      RuleIndex::Build({MakeRule(1, {{"client_id", "*"}}, 10, 10)}, 1), now_);
  Decision d;
  Descriptor a = {{"client_id", "a"}}, b = {{"client_id", "b"}},
             c = {{"client_id", "c"}};
  EXPECT_EQ(small.Check("api", 1, a, now_, &d), Checker::Result::kDone);
  EXPECT_EQ(small.Check("api", 1, b, now_, &d), Checker::Result::kDone);
  EXPECT_EQ(small.Check("api", 1, c, now_, &d), Checker::Result::kBucketLimit);
  EXPECT_EQ(small.Check("api", 1, a, now_, &d), Checker::Result::kDone);
  // A peek needs no new bucket.
  EXPECT_EQ(small.Check("api", 0, c, now_, &d), Checker::Result::kDone);
  EXPECT_EQ(d.remaining, 10);
}

TEST_F(CheckerTest, RuleChangeReconfiguresItsBuckets) {
  Rule rule = MakeRule(1, {{"client_id", "*"}}, 10, 10);
  Install({rule});
  Check({{"client_id", "1"}}, 8);  // 2 left
  rule.version = 2;
  rule.limit = 100;
  rule.burst = 100;
  Install({rule}, 2);
  ASSERT_EQ(checker_.table().size(), 1u);
  Decision d = Check({{"client_id", "1"}}, 0);
  EXPECT_EQ(d.limit, 100);
  EXPECT_EQ(d.remaining, 2);  // tokens kept, capacity raised
  rule.version = 3;
  rule.burst = 1;
  Install({rule}, 3);
  EXPECT_EQ(Check({{"client_id", "1"}}, 0).remaining, 1);  // clamped
}

TEST_F(CheckerTest, RuleRemovalOrMatchChangeDropsItsBuckets) {
  Rule keep = MakeRule(1, {{"client_id", "*"}}, 10, 10);
  Rule moved = MakeRule(2, {{"route", "*"}}, 10, 10);
  Rule gone = MakeRule(3, {{"user", "*"}}, 10, 10);
  Install({keep, moved, gone});
  Check({{"client_id", "1"}, {"route", "/a"}, {"user", "u"}});
  Check({{"client_id", "2"}, {"route", "/b"}, {"user", "v"}});
  ASSERT_EQ(checker_.table().size(), 6u);
  moved.version = 2;
  moved.match = {{"route", "*"}, {"verb", "*"}};
  Install({keep, moved}, 2);
  EXPECT_EQ(checker_.table().size(), 2u);
  for (size_t i = 0; i < checker_.table().size(); ++i) {
    EXPECT_EQ(BucketKeyRuleId(
                  checker_.table().key(static_cast<BucketTable::Handle>(i))),
              1);
  }
  // Dropped buckets start over.
  Rule fresh = gone;
  Install({keep, moved, fresh}, 3);
  EXPECT_EQ(Check({{"user", "u"}}, 0).remaining, 10);
}

TEST_F(CheckerTest, DisablingARuleDropsItsBuckets) {
  Rule rule = MakeRule(1, {{"client_id", "*"}}, 10, 10);
  Install({rule});
  Check({{"client_id", "1"}});
  rule.enabled = false;
  rule.version = 2;
  Install({rule}, 2);
  EXPECT_EQ(checker_.table().size(), 0u);
  ExpectDecision(Check({{"client_id", "1"}}), true, -1, -1, 0);
}

TEST_F(CheckerTest, CollectsLeaseWantsOncePerBucket) {
  Install({MakeRule(1, {{"client_id", "*"}}, 10, 10)});
  for (int i = 0; i < 5; ++i) Check({{"client_id", "a"}});
  Check({{"client_id", "b"}}, 2);
  EXPECT_EQ(checker_.pending_leases(), 2u);
  std::vector<LeaseWant> wants;
  checker_.TakeLeaseWants(now_, &wants);
  EXPECT_EQ(checker_.pending_leases(), 0u);
  ASSERT_EQ(wants.size(), 2u);
  EXPECT_EQ(wants[0].rule_id, 1);
  EXPECT_EQ(wants[0].values, std::vector<std::string>{"a"});
  EXPECT_EQ(wants[0].admitted, 5);
  EXPECT_EQ(wants[0].unleased, 5);  // from the safe share
  EXPECT_GE(wants[0].want, 1);
  EXPECT_EQ(wants[1].values, std::vector<std::string>{"b"});
  EXPECT_EQ(wants[1].admitted, 2);
  // A request is in flight: no new want until it is answered or times out.
  Check({{"client_id", "a"}});
  EXPECT_EQ(checker_.pending_leases(), 0u);
}

TEST_F(CheckerTest, RefusalsAreReportedAsDemand) {
  Install({MakeRule(1, {{"client_id", "*"}}, 10, 1)});
  Check({{"client_id", "a"}});
  Check({{"client_id", "a"}}, 1);  // refused
  std::vector<LeaseWant> wants;
  checker_.TakeLeaseWants(now_, &wants);
  ASSERT_EQ(wants.size(), 1u);
  EXPECT_EQ(wants[0].admitted, 1);
  EXPECT_EQ(wants[0].refused, 1);
}

TEST_F(CheckerTest, NoLeaseWantsWhileTheControllerIsUnreachable) {
  Install({MakeRule(1, {{"client_id", "*"}}, 10, 10)});
  checker_.SetLeaseContext(LeaseContext{false, 1});
  Check({{"client_id", "a"}});
  std::vector<LeaseWant> wants;
  checker_.TakeLeaseWants(now_, &wants);
  checker_.Sweep(now_, 100, &wants);
  EXPECT_TRUE(wants.empty());
  // Back: the bucket's report was kept for the next request.
  checker_.SetLeaseContext(LeaseContext{true, 1});
  checker_.Sweep(now_, 100, &wants);
  ASSERT_EQ(wants.size(), 1u);
  EXPECT_EQ(wants[0].admitted, 1);
}

TEST_F(CheckerTest, GrantedTokensAreSpentBeforeTheSafeShare) {
  // An item for a bucket the agent does not hold is ignored.
  EXPECT_EQ(LeaseForA(1000, {LeaseGrantItem{1, {"unknown"}, 40, 1000}}), 1u);
  EXPECT_EQ(checker_.CountLeased(now_), 1u);
  ExpectDecision(Check({{"client_id", "a"}}, 10), true, 10, 30, 0);
  // The lease expires after its ttl, counted from the request.
  now_ += 1000 * kMs;
  EXPECT_EQ(checker_.CountLeased(now_), 0u);
}

TEST_F(CheckerTest, SweepEvictsIdleBucketsAndKeepsActiveOnes) {
  Install({MakeRule(1, {{"client_id", "*"}}, 10, 10)});
  for (int i = 0; i < 50; ++i) Check({{"client_id", std::to_string(i)}});
  std::vector<LeaseWant> wants;
  Checker::SweepStats stats = checker_.Sweep(now_, 1000, &wants);
  EXPECT_EQ(stats.evicted, 0u);  // not full again yet
  EXPECT_EQ(wants.size(), 50u);  // their reports went out
  now_ += 100 * kMs;             // refilled, but their requests are in flight
  wants.clear();
  EXPECT_EQ(checker_.Sweep(now_, 1000, &wants).evicted, 0u);
  now_ += 900 * kMs;            // no answer within the request timeout
  Check({{"client_id", "7"}});  // one stays active
  wants.clear();
  stats = checker_.Sweep(now_, 1000, &wants);
  EXPECT_EQ(stats.evicted, 49u);
  ASSERT_EQ(checker_.table().size(), 1u);
  EXPECT_EQ(checker_.table().Find(MakeBucketKey(1, {"7"})), 0u);
}

TEST_F(CheckerTest, SweepReportsLeasedUseOnlyOnceTheBucketIsQuiet) {
  // Two agents: the only agent's report of a quiet bucket would be moot
  // (its safe share, the whole budget, refills what the lease paid for).
  checker_.SetLeaseContext(LeaseContext{true, 2});
  const int64_t requested = now_;
  ASSERT_EQ(LeaseForA(2000), 1u);
  now_ = requested + 100 * kMs;
  Check({{"client_id", "a"}});  // spent from the lease
  std::vector<LeaseWant> wants;
  checker_.TakeLeaseWants(now_, &wants);
  EXPECT_TRUE(wants.empty());
  // The lease nears expiry, then expires: the sweep leaves the bucket be.
  for (int64_t at : {1600 * kMs, 2500 * kMs, 4900 * kMs}) {
    now_ = requested + at;
    checker_.Sweep(now_, 100, &wants);
    EXPECT_TRUE(wants.empty()) << at;
  }
  EXPECT_EQ(checker_.table().size(), 1u);  // its report is still due
  // Quiet for LeaseTiming::quiet_report_ns: reported, then evicted once
  // there is no lease, nothing more to report and its safe share is full
  // again (the grant emptied it, and the check the lease paid for took the
  // token accrued since: 100 tokens at 10/s, 10 s after that check).
  now_ = requested + 5000 * kMs;
  checker_.Sweep(now_, 100, &wants);
  ASSERT_EQ(wants.size(), 1u);
  EXPECT_EQ(wants[0].admitted, 1);
  EXPECT_EQ(wants[0].unleased, 0);
  wants.clear();
  EXPECT_EQ(
      checker_.Sweep(requested + 10 * kNanosPerSecond + 2 * kMs, 100, &wants)
          .evicted,
      0u);
  EXPECT_EQ(
      checker_.Sweep(requested + 10 * kNanosPerSecond + 102 * kMs, 100, &wants)
          .evicted,
      1u);
  EXPECT_TRUE(wants.empty());
}

TEST_F(CheckerTest, SweepVisitsABoundedSliceAndWrapsAround) {
  Install({MakeRule(1, {{"client_id", "*"}}, 10, 10)});
  for (int i = 0; i < 100; ++i) Check({{"client_id", std::to_string(i)}});
  std::vector<LeaseWant> wants;
  checker_.TakeLeaseWants(now_, &wants);
  now_ += 1000 * kMs;  // all idle now
  size_t evicted = 0;
  for (int i = 0; i < 4; ++i) {
    Checker::SweepStats stats = checker_.Sweep(now_, 30, &wants);
    EXPECT_LE(stats.scanned, 30u);
    evicted += stats.evicted;
  }
  EXPECT_EQ(evicted, 100u);
  EXPECT_EQ(checker_.table().size(), 0u);
}

TEST_F(CheckerTest, TimeGoingBackwardsNeitherRefillsNorBreaks) {
  Install({MakeRule(1, {{"client_id", "*"}}, 10, 2)});
  Check({{"client_id", "a"}});
  Check({{"client_id", "a"}});
  now_ -= 10 * kNanosPerSecond;
  EXPECT_FALSE(Check({{"client_id", "a"}}).allowed);
}

TEST_F(CheckerTest, CheckingAKnownBucketDoesNotAllocate) {
  Install({MakeRule(1, {{"client_id", "*"}}, 1000000, 1000000),
           MakeRule(2, {{"route", "*"}}, 1000000, 1000000),
           MakeRule(3, {{"user", "*"}}, 1, 1, 1000, RuleMode::kShadow)});
  Descriptor d = {{"route", "/search"}, {"client_id", "12345"}, {"user", "u"}};
  Decision out;
  for (int i = 0; i < 3; ++i) checker_.Check("api", 1, d, now_, &out);
  std::vector<LeaseWant> wants;
  checker_.TakeLeaseWants(now_, &wants);  // a request is now in flight
  const int64_t before = testing::ThreadAllocations();
  for (int i = 0; i < 1000; ++i) {
    now_ += kMs;
    checker_.Check("api", 1, d, now_, &out);
    checker_.Check("api", 0, d, now_, &out);
  }
  EXPECT_EQ(testing::ThreadAllocations() - before, 0);
  EXPECT_TRUE(out.allowed);
}

// --- Prepared checks (pipelines) ---

// Runs the same sequence of checks twice, in two checkers: one by one, and
// prepared in batches (what the server does for a pipeline). Every reply,
// counter and lease want must be the same.
TEST(CheckerPrepareTest, PreparedChecksDecideExactlyAsUnprepared) {
  std::vector<Rule> rules = {
      MakeRule(1, {{"client_id", "*"}}, 5, 3),
      MakeRule(2, {{"route", "*"}}, 20, 8),
      MakeRule(3, {{"client_id", "*"}, {"route", "/login"}}, 2, 1),
      MakeRule(4, {{"user", "*"}}, 1, 1, 1000, RuleMode::kShadow)};
  Checker plain(1000);
  Checker prepared(1000);
  plain.SetRules(RuleIndex::Build(rules, 1), 0);
  prepared.SetRules(RuleIndex::Build(rules, 1), 0);
  // The requests' bytes, as the server has them: views into one buffer.
  const std::vector<std::string> clients = {"a", "b", "c"};
  const std::vector<std::string> routes = {"/login", "/search", "/x"};
  std::vector<std::vector<std::string>> requests;
  for (int i = 0; i < 60; ++i) {
    requests.push_back({"api", clients[i % 3], routes[(i / 3) % 3],
                        "u" + std::to_string(i % 4), std::to_string(i % 5)});
  }
  auto descriptor = [](const std::vector<std::string>& r) {
    return Descriptor{{"client_id", r[1]}, {"route", r[2]}, {"user", r[3]}};
  };
  int64_t now = kNanosPerSecond;
  for (size_t first = 0; first < requests.size(); first += 7) {
    const size_t end = std::min(requests.size(), first + 7);
    std::vector<Descriptor> ds;
    for (size_t i = first; i < end; ++i) ds.push_back(descriptor(requests[i]));
    for (size_t i = first; i < end; ++i) {
      prepared.Prepare(requests[i][0], ds[i - first]);
    }
    prepared.PrefetchPrepared();
    for (size_t i = first; i < end; ++i) {
      const int64_t cost = std::stoll(requests[i][4]);
      Decision a;
      Decision b;
      ASSERT_EQ(plain.Check(requests[i][0], cost, ds[i - first], now, &a),
                Checker::Result::kDone);
      ASSERT_EQ(prepared.Check(requests[i][0], cost, ds[i - first], now, &b),
                Checker::Result::kDone);
      EXPECT_EQ(a.allowed, b.allowed) << "request " << i;
      EXPECT_EQ(a.limit, b.limit) << "request " << i;
      EXPECT_EQ(a.remaining, b.remaining) << "request " << i;
      EXPECT_EQ(a.reset_after_ms, b.reset_after_ms) << "request " << i;
      EXPECT_EQ(a.retry_after_ms, b.retry_after_ms) << "request " << i;
      now += 37 * kMs;
    }
    prepared.ClearPrepared();
  }
  EXPECT_EQ(plain.table().size(), prepared.table().size());
  ASSERT_EQ(plain.decision_counts().size(), prepared.decision_counts().size());
  for (size_t i = 0; i < plain.decision_counts().size(); ++i) {
    EXPECT_EQ(plain.decision_counts()[i].allowed,
              prepared.decision_counts()[i].allowed);
    EXPECT_EQ(plain.decision_counts()[i].refused,
              prepared.decision_counts()[i].refused);
    EXPECT_EQ(plain.decision_counts()[i].shadow_refused,
              prepared.decision_counts()[i].shadow_refused);
  }
  std::vector<LeaseWant> plain_wants;
  std::vector<LeaseWant> prepared_wants;
  plain.TakeLeaseWants(now, &plain_wants);
  prepared.TakeLeaseWants(now, &prepared_wants);
  EXPECT_EQ(plain_wants.size(), prepared_wants.size());
}

// A prepared request that is not checked (its connection went away, an
// RL.ACQUIRE parked it), or a check that was not prepared, changes nothing.
// Check() takes what Prepare() worked out for the same bytes: shown by
// changing the bytes in between (which the server never does).
TEST_F(CheckerTest, CheckUsesWhatWasPreparedForTheSameBytes) {
  Install({MakeRule(1, {{"client_id", "*"}}, 10, 2)});
  std::string value = "a";
  const Descriptor d = {{"client_id", value}};
  checker_.Prepare("api", d);
  checker_.PrefetchPrepared();
  value[0] = 'b';  // same buffer, other bytes
  Decision out;
  checker_.Check("api", 1, d, now_, &out);
  checker_.ClearPrepared();
  EXPECT_NE(checker_.table().Find(MakeBucketKey(1, {"a"})), BucketTable::kNone);
  EXPECT_EQ(checker_.table().Find(MakeBucketKey(1, {"b"})), BucketTable::kNone);
  // Unprepared, the bytes are read as they are.
  checker_.Check("api", 1, d, now_, &out);
  EXPECT_NE(checker_.table().Find(MakeBucketKey(1, {"b"})), BucketTable::kNone);
}

TEST_F(CheckerTest, UnusedOrMissingPreparationsAreHarmless) {
  Install({MakeRule(1, {{"client_id", "*"}}, 10, 2)});
  const std::string a = "a";
  const std::string b = "b";
  const Descriptor da = {{"client_id", a}};
  const Descriptor db = {{"client_id", b}};
  checker_.Prepare("api", da);  // never checked
  checker_.Prepare("api", db);
  checker_.PrefetchPrepared();
  Decision out;
  checker_.Check("api", 1, db, now_, &out);
  ExpectDecision(out, true, 10, 1, 0);
  // Not prepared: the same request again, decided in full.
  checker_.Check("api", 1, db, now_, &out);
  ExpectDecision(out, true, 10, 0, 0);
  checker_.Check("api", 1, da, now_, &out);
  ExpectDecision(out, true, 10, 1, 0);
  checker_.ClearPrepared();
  // A rule change drops what was prepared against the old rules.
  checker_.Prepare("api", da);
  Install({MakeRule(1, {{"client_id", "*"}}, 10, 5)}, 2);
  checker_.Check("api", 1, da, now_, &out);
  EXPECT_TRUE(out.allowed);
  EXPECT_EQ(out.limit, 10);
}

TEST_F(CheckerTest, PreparedChecksOfKnownBucketsDoNotAllocate) {
  Install({MakeRule(1, {{"client_id", "*"}}, 1000000, 1000000),
           MakeRule(2, {{"route", "*"}}, 1000000, 1000000)});
  std::vector<std::string> values;
  for (int i = 0; i < 64; ++i) values.push_back(std::to_string(i));
  std::vector<Descriptor> ds;
  for (const std::string& v : values) {
    ds.push_back({{"route", "/search"}, {"client_id", v}});
  }
  Decision out;
  auto batch = [&] {
    for (const Descriptor& d : ds) checker_.Prepare("api", d);
    checker_.PrefetchPrepared();
    for (const Descriptor& d : ds) {
      now_ += kMs;
      checker_.Check("api", 1, d, now_, &out);
    }
    checker_.ClearPrepared();
  };
  batch();  // creates the buckets, grows the scratch
  std::vector<LeaseWant> wants;
  checker_.TakeLeaseWants(now_, &wants);  // requests are now in flight
  const int64_t before = testing::ThreadAllocations();
  for (int i = 0; i < 20; ++i) batch();
  EXPECT_EQ(testing::ThreadAllocations() - before, 0);
  EXPECT_TRUE(out.allowed);
}

TEST(CheckerKeyedGrantTest, KeyedGrantAppliesAsTheGrant) {
  const std::vector<Rule> rules = {MakeRule(1, {{"client_id", "*"}}, 10, 100)};
  Checker plain(1000);
  Checker keyed(1000);
  int64_t now = kNanosPerSecond;
  for (Checker* c : {&plain, &keyed}) {
    c->SetRules(RuleIndex::Build(rules, 1), now);
    Decision out;
    for (const char* v : {"a", "b"}) {
      c->Check("api", 1, Descriptor{{"client_id", v}}, now, &out);
    }
    std::vector<LeaseWant> wants;
    c->TakeLeaseWants(now, &wants);
  }
  LeaseGrant grant;
  grant.items.push_back(LeaseGrantItem{1, {"a"}, 40, 1000});
  grant.items.push_back(LeaseGrantItem{1, {"gone"}, 40, 1000});
  grant.items.push_back(LeaseGrantItem{1, {"b"}, 7, 1000});
  const Checker::KeyedGrant keyed_grant = Checker::KeyGrant(grant);
  ASSERT_EQ(keyed_grant.items.size(), 3u);
  EXPECT_EQ(keyed_grant.keys.substr(keyed_grant.items[2].key_offset,
                                    keyed_grant.items[2].key_size),
            MakeBucketKey(1, {"b"}));
  EXPECT_EQ(keyed_grant.items[2].hash,
            BucketTable::HashOf(MakeBucketKey(1, {"b"})));
  EXPECT_EQ(plain.ApplyGrant(grant, now, now + kMs), 2u);
  EXPECT_EQ(keyed.ApplyGrant(keyed_grant, now, now + kMs), 2u);
  now += kMs;
  EXPECT_EQ(plain.CountLeased(now), 2u);
  EXPECT_EQ(keyed.CountLeased(now), 2u);
  for (const char* v : {"a", "b", "a", "b"}) {
    Decision p;
    Decision k;
    plain.Check("api", 5, Descriptor{{"client_id", v}}, now, &p);
    keyed.Check("api", 5, Descriptor{{"client_id", v}}, now, &k);
    EXPECT_EQ(p.allowed, k.allowed) << v;
    EXPECT_EQ(p.remaining, k.remaining) << v;
    EXPECT_EQ(p.retry_after_ms, k.retry_after_ms) << v;
  }
}

}  // namespace
}  // namespace sluice
