// Checker with several controllers (Checker::SetOwners): buckets whose
// owner is away follow the controller-away path (lease, then failure_mode)
// while the others go on.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "agent/check/checker.h"
#include "agent/check/owner_map.h"
#include "common/bucket_key.h"
#include "common/clock.h"
#include "common/membership.h"
#include "tests/common/test_timing.h"

namespace sluice {
namespace {

constexpr int64_t kMs = kNanosPerMilli;

Rule ClosedPerClient() {
  Rule rule;
  rule.id = 1;
  rule.version = 1;
  rule.name = "per-client";
  rule.domain = "api";
  rule.match = {{"client_id", "*"}};
  rule.limit = 10;
  rule.period_ms = 1000;
  rule.burst = 10;
  rule.failure_mode = FailureMode::kClosed;
  return rule;
}

class CheckerOwnersTest : public ::testing::Test {
 protected:
  CheckerOwnersTest() {
    set_.version = 2;
    set_.members = {{"m0", "tcp://m0:1"}, {"m1", "tcp://m1:1"}};
    checker_.SetRules(RuleIndex::Build({ClosedPerClient()}, 1), now_);
    checker_.SetLeaseContext(LeaseContext{true, 1});
    // Clients owned by each member.
    const Ownership ownership(set_);
    for (int i = 0; owned_[0].empty() || owned_[1].empty(); ++i) {
      const std::string client = "c" + std::to_string(i);
      const int owner = ownership.Owner(StableHash(MakeBucketKey(1, {client})));
      if (owned_[owner].empty()) owned_[owner] = client;
    }
  }

  // Member m0 on connection 0, m1 on connection 1.
  void Reach(bool m0, bool m1) {
    checker_.SetOwners(std::make_shared<OwnerMap>(
        Ownership(set_), std::vector<int>{0, 1}, std::vector<bool>{m0, m1}));
    checker_.SetLeaseContext(LeaseContext{m0 || m1, 1});
  }

  bool Check(const std::string& client) {
    Decision out;
    EXPECT_EQ(checker_.Check("api", 1, {{"client_id", client}}, now_, &out),
              Checker::Result::kDone);
    return out.allowed;
  }

  std::vector<std::string> Wants() {
    std::vector<LeaseWant> wants;
    checker_.TakeLeaseWants(now_, &wants);
    std::vector<std::string> clients;
    for (const LeaseWant& want : wants) clients.push_back(want.values[0]);
    return clients;
  }

  ControllerSet set_;
  std::string owned_[2];
  // The subject is the lease exchange: every bucket used asks.
  Checker checker_{1000, testing_timing::LeaseEveryBucket()};
  int64_t now_ = 1000 * kNanosPerSecond;
};

TEST_F(CheckerOwnersTest, BucketsOfAnOwnerAwayFollowTheirFailureMode) {
  Reach(true, false);
  EXPECT_TRUE(Check(owned_[0]));   // its safe share
  EXPECT_FALSE(Check(owned_[1]));  // failure_mode closed
  // Only the reachable owner's bucket asks for a lease.
  EXPECT_EQ(Wants(), std::vector<std::string>{owned_[0]});
  // The owner comes back: the bucket's (refused) report goes with the next
  // request, and it runs on its safe share.
  Reach(true, true);
  EXPECT_TRUE(Check(owned_[1]));
  EXPECT_EQ(Wants(), std::vector<std::string>{owned_[1]});
}

TEST_F(CheckerOwnersTest, ALeaseIsSpentBeforeTheFailureMode) {
  Reach(true, true);
  EXPECT_TRUE(Check(owned_[1]));
  ASSERT_EQ(Wants(), std::vector<std::string>{owned_[1]});
  LeaseGrant grant;
  grant.items.push_back(LeaseGrantItem{1, {owned_[1]}, 3, 1000});
  ASSERT_EQ(checker_.ApplyGrant(grant, now_, now_ + kMs), 1u);
  now_ += kMs;
  Reach(true, false);
  EXPECT_TRUE(Check(owned_[1]));
  EXPECT_TRUE(Check(owned_[1]));
  EXPECT_TRUE(Check(owned_[1]));
  EXPECT_FALSE(Check(owned_[1]));  // the lease is spent: closed
  EXPECT_TRUE(Check(owned_[0]));
}

TEST_F(CheckerOwnersTest, EveryOwnerAwayIsTheControllerAway) {
  Reach(false, false);
  EXPECT_FALSE(Check(owned_[0]));
  EXPECT_FALSE(Check(owned_[1]));
  EXPECT_TRUE(Wants().empty());
  // With every owner reachable (or no owner map), as with one controller.
  Reach(true, true);
  EXPECT_TRUE(Check(owned_[0]));
  EXPECT_TRUE(Check(owned_[1]));
  checker_.SetOwners(nullptr);
  EXPECT_TRUE(Check(owned_[0]));
}

}  // namespace
}  // namespace sluice
