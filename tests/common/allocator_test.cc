#include "common/allocator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/clock.h"
#include "tests/common/alloc_counter.h"
#include "tests/common/test_rule.h"

namespace sluice {
namespace {

using testing_rules::MakeRule;

constexpr int64_t kMs = kNanosPerMilli;

// --- MaxMinFairShares ---

struct FairCase {
  std::string name;
  double capacity;
  std::vector<FairClaim> claims;
  std::vector<double> expected;
};

class MaxMinFairSharesTest : public ::testing::TestWithParam<FairCase> {};

TEST_P(MaxMinFairSharesTest, DividesLikeWaterFilling) {
  const FairCase& c = GetParam();
  std::vector<double> shares = {42};  // overwritten
  MaxMinFairShares(c.capacity, c.claims, &shares);
  ASSERT_EQ(shares.size(), c.expected.size());
  double sum = 0, wanted = 0;
  for (size_t i = 0; i < shares.size(); ++i) {
    EXPECT_NEAR(shares[i], c.expected[i], 1e-9) << "claim " << i;
    EXPECT_LE(shares[i], std::max(0.0, c.claims[i].demand) + 1e-9);
    sum += shares[i];
    if (c.claims[i].weight > 0) wanted += std::max(0.0, c.claims[i].demand);
  }
  EXPECT_NEAR(sum, std::min(std::max(0.0, c.capacity), wanted), 1e-9);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, MaxMinFairSharesTest,
    ::testing::Values(
        FairCase{"nobody", 10, {}, {}},
        FairCase{"all satisfied", 10, {{1, 1}, {2, 1}, {3, 1}}, {1, 2, 3}},
        FairCase{"one small two big", 10, {{2, 1}, {8, 1}, {8, 1}}, {2, 4, 4}},
        FairCase{"all big", 9, {{10, 1}, {20, 1}, {30, 1}}, {3, 3, 3}},
        FairCase{
            "cascade", 10, {{1, 1}, {3, 1}, {10, 1}, {10, 1}}, {1, 3, 3, 3}},
        FairCase{"no demand no share", 10, {{0, 1}, {5, 1}}, {0, 5}},
        FairCase{"weights 2:1", 9, {{10, 2}, {10, 1}}, {6, 3}},
        FairCase{"weights, small heavy one", 10, {{1, 3}, {10, 1}}, {1, 9}},
        FairCase{"weights 1:1:2", 10, {{1, 1}, {10, 1}, {10, 2}}, {1, 3, 6}},
        FairCase{"zero weight", 10, {{5, 0}, {20, 1}}, {0, 10}},
        FairCase{"no capacity", 0, {{5, 1}, {5, 1}}, {0, 0}},
        FairCase{"negative demand", 10, {{-3, 1}, {20, 1}}, {0, 10}}),
    [](const ::testing::TestParamInfo<FairCase>& info) {
      std::string name;
      for (char ch : info.param.name) {
        name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
      }
      return name;
    });

// --- BucketAllocator ---

// 10 per second, burst 20.
Rule TestRule() { return MakeRule(1, "api", {}, 10, 1000, 20); }

LeaseReport Ask(int64_t want, int64_t admitted = 0, int64_t refused = 0,
                int64_t unleased = 0, double weight = 1) {
  LeaseReport r;
  r.want = want;
  r.admitted = admitted;
  r.refused = refused;
  r.unleased = unleased;
  r.weight = weight;
  return r;
}

class BucketAllocatorTest : public ::testing::Test {
 protected:
  // Invariant 1 of allocator.h, for the agents in `ids`.
  void ExpectWithinBurst(BucketAllocator& a, int64_t now,
                         const std::vector<uint64_t>& ids) {
    double credits = 0;
    for (uint64_t id : ids) {
      EXPECT_GE(a.Credit(id, now), -1e-9);
      credits += a.Credit(id, now);
    }
    EXPECT_LE(std::max(0.0, a.Pool(now)) + credits + a.Outstanding(now),
              a.burst() + 1e-6)
        << "at " << now / kMs << " ms";
    EXPECT_GE(a.Pool(now), -a.burst() - 1e-9);
  }

  AllocatorOptions options_;
};

TEST_F(BucketAllocatorTest, ALoneAgentGetsTheBurstThenTheRefill) {
  BucketAllocator a(TestRule(), 0, &options_);
  LeaseOffer offer = a.Grant(1, 0, Ask(8));
  EXPECT_EQ(offer.tokens, 8);
  EXPECT_EQ(offer.ttl_ns, options_.lease_ttl_ns);
  EXPECT_EQ(a.Grant(1, 0, Ask(100)).tokens, 12);
  // Spent at once, reported with the next request: nothing left.
  EXPECT_EQ(a.Grant(1, 0, Ask(1, 20)).tokens, 0);
  // Then the refill, 10/s.
  EXPECT_EQ(a.Grant(1, 250 * kMs, Ask(100)).tokens, 2);
  EXPECT_EQ(a.Grant(1, 300 * kMs, Ask(100, 2)).tokens, 1);
  ExpectWithinBurst(a, 300 * kMs, {1});
}

TEST_F(BucketAllocatorTest, UnspentLeasesKeepTheirRoomUntilTheyExpire) {
  BucketAllocator a(TestRule(), 0, &options_);
  ASSERT_EQ(a.Grant(1, 0, Ask(20)).tokens, 20);
  // Not reported spent: the 20 might still be admitted, so the refill has
  // no room (burst 20) until the lease expires at 2 s.
  EXPECT_EQ(a.Grant(1, 1999 * kMs, Ask(20)).tokens, 0);
  EXPECT_DOUBLE_EQ(a.Outstanding(1999 * kMs), 20);
  EXPECT_DOUBLE_EQ(a.Outstanding(2000 * kMs), 0);
  // From the expiry on, it refills at 10/s (credit and pool together).
  EXPECT_EQ(a.Grant(1, 2500 * kMs, Ask(20)).tokens, 5);
  // Reported spending frees the room at once.
  ASSERT_EQ(a.Grant(1, 100'000 * kMs, Ask(20, 5)).tokens, 20);
  EXPECT_EQ(a.Grant(1, 100'000 * kMs, Ask(0, 20)).tokens, 0);
  EXPECT_EQ(a.Grant(1, 100'500 * kMs, Ask(20)).tokens, 5);
}

TEST_F(BucketAllocatorTest, NeverGrantsMoreThanBurstPlusRateTimesT) {
  BucketAllocator a(TestRule(), 0, &options_);
  std::vector<int64_t> last(3, 0);
  int64_t granted = 0;
  // Three agents, each asking every 70 ms (out of phase) for 10 s and
  // spending everything: at most burst + rate * 10 s = 120.
  for (int64_t t = 0; t <= 10'000; t += 10) {
    for (uint64_t id = 0; id < 3; ++id) {
      if ((t + 23 * static_cast<int64_t>(id)) % 70 != 0) continue;
      const size_t i = static_cast<size_t>(id);
      last[i] = a.Grant(id, t * kMs, Ask(50, last[i], 10)).tokens;
      granted += last[i];
      ExpectWithinBurst(a, t * kMs, {0, 1, 2});
    }
  }
  EXPECT_LE(granted, 20 + 10 * 10);
  EXPECT_GE(granted, 20 + 10 * 10 - 3);  // and nothing is lost
}

TEST_F(BucketAllocatorTest, HungryAgentsSplitTheRateByWeight) {
  Rule rule = MakeRule(1, "api", {}, 1000, 1000, 500);  // 1000/s
  BucketAllocator a(rule, 0, &options_);
  std::vector<int64_t> last(3, 0), got(3, 0);
  const std::vector<double> weight = {1, 1, 2};
  for (int64_t t = 0; t < 3000; t += 50) {
    for (uint64_t id = 0; id < 3; ++id) {
      const size_t i = static_cast<size_t>(id);
      last[i] = a.Grant(id, t * kMs + static_cast<int64_t>(id) * kMs,
                        Ask(2000, last[i], 100, 0, weight[i]))
                    .tokens;
      if (t >= 1000) got[i] += last[i];  // the last 2 s
    }
  }
  EXPECT_NEAR(got[0], 500, 25);
  EXPECT_NEAR(got[1], 500, 25);
  EXPECT_NEAR(got[2], 1000, 25);
  EXPECT_NEAR(a.ShareRate(2), 500, 1);
}

TEST_F(BucketAllocatorTest, ALightAgentGetsItsDemandTheOthersTheRest) {
  Rule rule = MakeRule(1, "api", {}, 1000, 1000, 500);
  BucketAllocator a(rule, 0, &options_);
  std::vector<int64_t> last(3, 0);
  for (int64_t t = 0; t < 3000; t += 50) {
    // Agent 0 uses 100/s (5 per 50 ms, from what it holds) and asks for a
    // second of it; the others want far more.
    last[0] = a.Grant(0, t * kMs, Ask(100, t > 0 ? 5 : 0)).tokens;
    last[1] = a.Grant(1, t * kMs + kMs, Ask(2000, last[1], 100)).tokens;
    last[2] = a.Grant(2, t * kMs + 2 * kMs, Ask(2000, last[2], 100)).tokens;
  }
  EXPECT_NEAR(a.ShareRate(0), 100, 10);
  EXPECT_NEAR(a.ShareRate(1), 450, 10);
  EXPECT_NEAR(a.ShareRate(2), 450, 10);
}

TEST_F(BucketAllocatorTest, AShareNobodyClaimsGoesToThoseAsking) {
  Rule rule = MakeRule(1, "api", {}, 1000, 1000, 500);
  BucketAllocator a(rule, 0, &options_);
  std::vector<int64_t> last(2, 0);
  for (int64_t t = 0; t < 1000; t += 50) {
    for (uint64_t id = 0; id < 2; ++id) {
      last[id] = a.Grant(id, t * kMs + static_cast<int64_t>(id) * kMs,
                         Ask(2000, last[id], 100))
                     .tokens;
    }
  }
  ASSERT_NEAR(a.ShareRate(0), 500, 1);
  // Agent 0 stops asking. Its credit stops at 200 ms of its share (100
  // tokens); beyond, its share accrues to agent 1, which gets all 1000/s.
  int64_t got = 0;
  for (int64_t t = 1000; t < 2000; t += 50) {
    last[1] = a.Grant(1, t * kMs + kMs, Ask(2000, last[1], 100)).tokens;
    if (t >= 1300) got += last[1];
  }
  // (A float share, rounded down: 1e-7 relative below.)
  EXPECT_NEAR(a.Credit(0, 2000 * kMs), 100, 1e-4);
  EXPECT_NEAR(got, 700, 30);  // 1300..2000 ms at 1000/s
  // Its estimate decays: its share is already small.
  EXPECT_LT(a.DemandRate(0, 2000 * kMs), 600);
}

TEST_F(BucketAllocatorTest, UnleasedSpendingIsChargedCreditFirstThenDebt) {
  BucketAllocator a(TestRule(), 0, &options_);
  // 25 admitted on a safe share: the burst (20) and 5 of debt.
  EXPECT_EQ(a.Grant(1, 0, Ask(10, 25, 0, 25)).tokens, 0);
  EXPECT_DOUBLE_EQ(a.Pool(0), -5);
  // The debt is paid from the refill before anything is granted.
  EXPECT_EQ(a.Grant(1, 499 * kMs, Ask(10)).tokens, 0);
  EXPECT_EQ(a.Grant(1, 700 * kMs, Ask(10)).tokens, 2);
  // Never deeper than -burst: what is beyond is not charged.
  EXPECT_EQ(a.Grant(1, 700 * kMs, Ask(0, 500, 0, 500)).tokens, 0);
  EXPECT_DOUBLE_EQ(a.Pool(700 * kMs), -20);
  ExpectWithinBurst(a, 700 * kMs, {1});
}

TEST_F(BucketAllocatorTest, ForgettingAnAgentKeepsItsLeasesUntilExpiry) {
  BucketAllocator a(TestRule(), 0, &options_);
  ASSERT_EQ(a.Grant(1, 0, Ask(6, 0, 30)).tokens, 6);
  ASSERT_EQ(a.Grant(2, 0, Ask(6, 0, 30)).tokens, 6);
  EXPECT_EQ(a.agent_count(), 2u);
  a.Forget(1, 100 * kMs);
  EXPECT_EQ(a.agent_count(), 1u);
  EXPECT_EQ(a.Credit(1, 100 * kMs), 0);
  EXPECT_EQ(a.ShareRate(1), 0);
  // Its 6 tokens might still be spent: outstanding until they expire.
  EXPECT_DOUBLE_EQ(a.Outstanding(100 * kMs), 12);
  EXPECT_DOUBLE_EQ(a.Outstanding(2000 * kMs), 0);
  a.Forget(1, 2000 * kMs);  // twice: nothing happens
  a.Forget(2, 2000 * kMs);
  EXPECT_EQ(a.agent_count(), 0u);
  EXPECT_FALSE(a.Idle(2000 * kMs));  // not full yet
  EXPECT_TRUE(a.Idle(5000 * kMs));
}

TEST_F(BucketAllocatorTest, SweepDropsSilentAgentsWithNothingOutstanding) {
  BucketAllocator a(TestRule(), 0, &options_);  // forget after 5 s
  ASSERT_EQ(a.Grant(1, 0, Ask(5, 0, 3)).tokens, 5);
  ASSERT_EQ(a.Grant(2, 4000 * kMs, Ask(5, 0, 3)).tokens, 5);
  a.Sweep(4999 * kMs);
  EXPECT_EQ(a.agent_count(), 2u);
  a.Sweep(5000 * kMs);  // agent 1: silent 5 s, its lease expired at 2 s
  EXPECT_EQ(a.agent_count(), 1u);
  EXPECT_EQ(a.DemandRate(1, 5000 * kMs), 0);
  a.Sweep(8999 * kMs);  // agent 2: silent 4999 ms
  EXPECT_EQ(a.agent_count(), 1u);
  a.Sweep(9000 * kMs);
  EXPECT_EQ(a.agent_count(), 0u);
}

TEST_F(BucketAllocatorTest, ReconfigureClampsToTheNewBurst) {
  BucketAllocator a(TestRule(), 0, &options_);
  ASSERT_EQ(a.Grant(1, 0, Ask(5)).tokens, 5);            // 15 left in the pool
  a.Reconfigure(MakeRule(1, "api", {}, 1, 1000, 8), 0);  // 1/s, burst 8
  EXPECT_DOUBLE_EQ(a.burst(), 8);
  // 5 outstanding leave room for 3.
  EXPECT_DOUBLE_EQ(a.Pool(0), 3);
  EXPECT_EQ(a.Grant(1, 0, Ask(100, 5)).tokens, 3);
  EXPECT_EQ(a.Grant(1, 2000 * kMs, Ask(100, 3)).tokens, 2);  // at 1/s
  ExpectWithinBurst(a, 2000 * kMs, {1});
}

TEST_F(BucketAllocatorTest, AnEmptyStartGrantsOnlyTheRefill) {
  options_.drop_unclaimed_until_ns = 1000 * kMs;
  BucketAllocator a(TestRule(), 0, &options_, BucketAllocator::Start::kEmpty);
  EXPECT_EQ(a.Grant(1, 0, Ask(20)).tokens, 0);
  // Nobody claims the refill while it is dropped: the pool stays empty.
  EXPECT_DOUBLE_EQ(a.Pool(900 * kMs), 0);
  // An agent with demand gets its share, up to 200 ms of it (2 tokens).
  EXPECT_EQ(a.Grant(1, 900 * kMs, Ask(20, 0, 30)).tokens, 0);
  EXPECT_EQ(a.Grant(1, 1000 * kMs, Ask(20, 0, 30)).tokens, 1);
  // Afterwards the pool fills as usual.
  EXPECT_GT(a.Pool(3000 * kMs), 15);
}

TEST_F(BucketAllocatorTest, TimeGoingBackIsTheLastTimeSeen) {
  BucketAllocator a(TestRule(), 1000 * kMs, &options_);
  ASSERT_EQ(a.Grant(1, 1000 * kMs, Ask(20)).tokens, 20);
  EXPECT_EQ(a.Grant(1, 0, Ask(20, 20)).tokens, 0);  // no refill, no crash
  EXPECT_EQ(a.Grant(1, 1500 * kMs, Ask(20)).tokens, 5);
  ExpectWithinBurst(a, 1500 * kMs, {1});
}

TEST_F(BucketAllocatorTest, NothingWantedNothingGranted) {
  BucketAllocator a(TestRule(), 0, &options_);
  EXPECT_EQ(a.Grant(1, 0, Ask(0)).tokens, 0);
  EXPECT_EQ(a.Grant(1, 0, Ask(-5)).tokens, 0);
  EXPECT_DOUBLE_EQ(a.Pool(0), 20);
  // A report alone (learning) grants nothing but is accounted.
  a.Report(2, 0, Ask(10, 4, 0, 4));
  EXPECT_DOUBLE_EQ(a.Pool(0), 16);
  EXPECT_EQ(a.agent_count(), 2u);
}

// Leases are kept per bucket: what an agent reports spent leaves the
// earliest bins, whichever agent's leases they hold. The bins then end no
// earlier than the leases they stand for (room is held longer, never
// shorter).
TEST_F(BucketAllocatorTest, SpendingLeavesTheEarliestBinsOfTheBucket) {
  BucketAllocator a(TestRule(), 0, &options_);   // burst 20, bins of 500 ms
  ASSERT_EQ(a.Grant(1, 0, Ask(10)).tokens, 10);  // ends at 2000 ms
  ASSERT_EQ(a.Grant(2, 600 * kMs, Ask(10)).tokens, 10);  // ends at 3000 ms
  // Agent 2 spent 5 of its own: taken from the bin ending first.
  a.Report(2, 700 * kMs, Ask(0, 5));
  EXPECT_DOUBLE_EQ(a.Outstanding(700 * kMs), 15);
  // At 2000 ms agent 1's lease ends: 5 of the bin's 10 go, the 10 of the
  // later bin stay (truly 5 are left there): held longer, not shorter.
  EXPECT_DOUBLE_EQ(a.Outstanding(2000 * kMs), 10);
  EXPECT_DOUBLE_EQ(a.Outstanding(3000 * kMs), 0);
  ExpectWithinBurst(a, 3000 * kMs, {1, 2});
}

// An agent's reports free at most what it was granted and did not yet
// report spent, and nothing once its last lease has expired: neither can
// take another agent's leases out of the bins.
TEST_F(BucketAllocatorTest, ReportedSpendingIsCappedAtWhatTheAgentHolds) {
  BucketAllocator a(TestRule(), 0, &options_);
  ASSERT_EQ(a.Grant(1, 0, Ask(4)).tokens, 4);
  ASSERT_EQ(a.Grant(2, 0, Ask(10)).tokens, 10);
  a.Report(1, 100 * kMs, Ask(0, 50));  // 50 admitted, 4 held
  EXPECT_DOUBLE_EQ(a.Outstanding(100 * kMs), 10);
  // Agent 1's next lease expires (at 2500 ms); its report after that
  // frees nothing of agent 2's lease, granted at 2600 ms.
  ASSERT_EQ(a.Grant(1, 400 * kMs, Ask(3)).tokens, 3);
  ASSERT_EQ(a.Grant(2, 2600 * kMs, Ask(5, 10)).tokens, 5);
  a.Report(1, 2700 * kMs, Ask(0, 3));
  EXPECT_DOUBLE_EQ(a.Outstanding(2700 * kMs), 5);
  ExpectWithinBurst(a, 2700 * kMs, {1, 2});
}

// --- Memory: the controller keeps one allocator per live bucket ---

// A budget with one agent is the allocator object alone, and stays so
// whatever its number of leases (they are kept in fixed expiry bins).
TEST_F(BucketAllocatorTest, OneAgentCostsTheObjectAndNoHeap) {
  // The stated budget (docs/leasing.md, "Memory"): 112 bytes with the
  // agent inline; each further agent one AgentBytes() in an array.
  EXPECT_LE(sizeof(BucketAllocator), 112u);
  EXPECT_LE(BucketAllocator::AgentBytes(), 32u);
  const int64_t before = testing_alloc::ThreadAllocations();
  BucketAllocator a(MakeRule(1, "api", {}, 1000, 1000, 1000), 0, &options_);
  // A lease every 10 ms for 10 s, half of each reported spent: up to 200
  // leases alive at once.
  for (int64_t t = 0; t < 10'000 * kMs; t += 10 * kMs) {
    a.Grant(1, t, Ask(20, 10, 0));
  }
  a.Forget(1, 10'000 * kMs);
  EXPECT_TRUE(a.Idle(20'000 * kMs));
  EXPECT_EQ(testing_alloc::ThreadAllocations() - before, 0);
}

TEST_F(BucketAllocatorTest, FurtherAgentsShareOneArrayAndNoScratch) {
  BucketAllocator a(MakeRule(1, "api", {}, 1000, 1000, 1000), 0, &options_);
  auto round = [&](int64_t from) {
    for (int64_t t = from; t < from + 1000 * kMs; t += 10 * kMs) {
      for (uint64_t id = 1; id <= 3; ++id) a.Grant(id, t, Ask(20, 10, 5));
    }
  };
  round(0);  // the array of agents 2 and 3, the thread's scratch
  const int64_t before = testing_alloc::ThreadAllocations();
  round(1000 * kMs);
  EXPECT_EQ(testing_alloc::ThreadAllocations() - before, 0);
  ExpectWithinBurst(a, 2000 * kMs, {1, 2, 3});
}

// Expiries are rounded up to bins of ttl / (kLeaseSlots - 1): a lease may
// hold its room up to one bin longer, never shorter.
TEST_F(BucketAllocatorTest, LeaseExpiryIsRoundedUpToItsBin) {
  BucketAllocator a(TestRule(), 0, &options_);  // burst 20, 10/s
  const int64_t bin =
      options_.lease_ttl_ns / (BucketAllocator::kLeaseSlots - 1);
  ASSERT_EQ(a.Grant(1, 10 * kMs, Ask(20)).tokens, 20);
  // Expires at 2010 ms, held until the end of its bin.
  EXPECT_DOUBLE_EQ(a.Outstanding(2010 * kMs), 20);
  EXPECT_DOUBLE_EQ(a.Outstanding(5 * bin - 1), 20);
  EXPECT_DOUBLE_EQ(a.Outstanding(5 * bin), 0);
  ExpectWithinBurst(a, 5 * bin, {1});
}

}  // namespace
}  // namespace sluice
