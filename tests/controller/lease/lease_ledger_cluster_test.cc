// LeaseLedger with several controllers (lease_ledger.h, "Several
// controllers"), on a manual clock: what is not owned, held or fenced gets
// no lease; a lost bucket's budget is dropped; a start-over drops all.
#include <gtest/gtest.h>

#include <string>

#include "common/bucket_key.h"
#include "controller/lease/lease_ledger.h"
#include "tests/controller/lease/ledger_test_support.h"

namespace sluice {
namespace {

using testing::LedgerHarness;
using testing::Line;

constexpr int64_t kMs = kNanosPerMilli;

ControllerSet Set(int64_t version, std::vector<std::string> ids) {
  ControllerSet set;
  set.version = version;
  for (const std::string& id : ids) set.members.push_back({id, "tcp://" + id});
  SortMembers(&set.members);
  return set;
}

// The first client value of rule 1 whose bucket `owner` owns in `set`.
std::string ValueOwnedBy(const ControllerSet& set, const std::string& owner,
                         int from = 0) {
  const Ownership ownership(set);
  for (int k = from;; ++k) {
    const std::string value = "c" + std::to_string(k);
    if (ownership.OwnerOf(MakeBucketKey(1, {value}))->id == owner) return value;
  }
}

LeaseLedgerOptions Options() {
  LeaseLedgerOptions options;
  options.lease_ttl_ms = 1000;
  options.member_id = "a";
  options.member_endpoint = "tcp://a";
  return options;
}

TEST(LeaseLedgerClusterTest, NoSetOwnsEverythingAndHeartbeatsSayVersion0) {
  LedgerHarness h(Options());
  h.Connect("p");
  EXPECT_GT(h.Lease("p", {Line(1, {"x"}, 5)}).items[0].tokens, 0);
  EXPECT_EQ(h.ledger().HeartbeatReply().controllers_version, 0);
}

TEST(LeaseLedgerClusterTest, AloneInTheSetGrantsAsBefore) {
  LedgerHarness h(Options());
  h.Connect("p");
  const Adoption adoption = h.ledger().OnClusterHeartbeat(
      h.now(), Set(1, {"a"}), ControllerSet{}, h.now());
  EXPECT_TRUE(adoption.set_changed);
  EXPECT_EQ(h.ledger().HeartbeatReply().controllers_version, 1);
  const LeaseGrant grant = h.Lease("p", {Line(1, {"x"}, 5)});
  EXPECT_GT(grant.items[0].tokens, 0);
  EXPECT_FALSE(h.ledger().answered_unowned());
  // The database away for a minute: alone, it keeps granting.
  h.clock().AdvanceMillis(60'000);
  EXPECT_GT(h.Lease("p", {Line(1, {"y"}, 5)}).items[0].tokens, 0);
  const Controllers told = h.ledger().ControllersMessage();
  EXPECT_EQ(told.set, Set(1, {"a"}));
  EXPECT_EQ(told.self_id, "a");
}

TEST(LeaseLedgerClusterTest, NotOwnedGetsNoLeaseAndLostBudgetsAreDropped) {
  LedgerHarness h(Options());
  h.Connect("p");
  h.ledger().OnClusterHeartbeat(h.now(), Set(1, {"a"}), ControllerSet{},
                                h.now());
  const ControllerSet two = Set(2, {"a", "b"});
  const std::string lost = ValueOwnedBy(two, "b");
  const std::string kept = ValueOwnedBy(two, "a");
  ASSERT_GT(
      h.Lease("p", {Line(1, {lost}, 5), Line(1, {kept}, 5)}).items[0].tokens,
      0);
  ASSERT_NE(h.ledger().FindBudget(1, {lost}), nullptr);
  h.clock().AdvanceMillis(250);
  const Adoption adoption =
      h.ledger().OnClusterHeartbeat(h.now(), two, ControllerSet{}, h.now());
  EXPECT_TRUE(adoption.set_changed);
  EXPECT_EQ(h.ledger().FindBudget(1, {lost}), nullptr);
  EXPECT_NE(h.ledger().FindBudget(1, {kept}), nullptr);
  const LeaseGrant grant =
      h.Lease("p", {Line(1, {lost}, 5), Line(1, {kept}, 5)});
  EXPECT_EQ(grant.items[0].tokens, 0);
  EXPECT_EQ(grant.items[0].ttl_ms, 0);
  EXPECT_GT(grant.items[1].tokens, 0);
  EXPECT_TRUE(h.ledger().answered_unowned());
  EXPECT_EQ(h.ledger().ownership_changes(), 2);
}

TEST(LeaseLedgerClusterTest, GainedBucketsAreHeldThenStartEmpty) {
  LedgerHarness h(Options());
  h.Connect("p");
  const ControllerSet two = Set(4, {"a", "b"});
  h.ledger().OnClusterHeartbeat(h.now(), two, ControllerSet{}, h.now());
  h.clock().AdvanceMillis(5000);  // the first adoption's hold is over
  h.ledger().OnClusterHeartbeat(h.now(), two, two, h.now());
  // b leaves: its buckets come to a, held for 1000 + 2*250 + 250 ms.
  const std::string gained = ValueOwnedBy(two, "b");
  const ControllerSet one = Set(5, {"a"});
  const int64_t adopted = h.now();
  h.ledger().OnClusterHeartbeat(h.now(), one, two, adopted);
  LeaseGrant held = h.Lease("p", {Line(1, {gained}, 5, /*admitted=*/3)});
  EXPECT_EQ(held.items[0].tokens, 0);
  EXPECT_EQ(held.items[0].ttl_ms, 0);
  EXPECT_FALSE(h.ledger().answered_unowned());
  // The budget exists (the report was accounted) and started empty.
  ASSERT_NE(h.ledger().FindBudget(1, {gained}), nullptr);
  h.clock().Set(adopted + 1749 * kMs);
  EXPECT_EQ(h.Lease("p", {Line(1, {gained}, 5)}).items[0].ttl_ms, 0);
  h.clock().Set(adopted + 1750 * kMs);
  const LeaseGrant after = h.Lease("p", {Line(1, {gained}, 100)});
  EXPECT_GT(after.items[0].ttl_ms, 0);
  EXPECT_GT(after.items[0].tokens, 0);
  // It started empty: what the hold's refill credited the agent, never the
  // full burst of 20 a budget made outside a hold starts with.
  EXPECT_LT(after.items[0].tokens, 20);
}

// What agents admit without a lease while a bucket is held (their safe
// shares) is not charged: the held budget grants nothing and drops its
// unclaimed refill meanwhile. Charged, a burst's worth of debt would leave
// the bucket without a lease for a second after the hold (measured end to
// end: 48 admitted in that second for a limit of 200).
TEST(LeaseLedgerClusterTest, UnleasedAdmissionsDuringAHoldAreNotADebt) {
  LedgerHarness h(Options());
  h.Connect("p");
  const ControllerSet two = Set(4, {"a", "b"});
  h.ledger().OnClusterHeartbeat(h.now(), two, ControllerSet{}, h.now());
  h.clock().AdvanceMillis(5000);
  h.ledger().OnClusterHeartbeat(h.now(), two, two, h.now());
  const std::string gained = ValueOwnedBy(two, "b");
  const int64_t adopted = h.now();
  h.ledger().OnClusterHeartbeat(h.now(), Set(5, {"a"}), two, adopted);
  // Rule 1 is 10/s, burst 20: the agent reports its safe share's 10/s,
  // and a backlog of 20 from before (all unleased), while refusing more.
  const LeaseGrant first = h.Lease(
      "p", {Line(1, {gained}, 20, /*admitted=*/20, /*refused=*/10, 20)});
  EXPECT_EQ(first.items[0].tokens, 0);
  for (int i = 1; i <= 6; ++i) {  // every 250 ms while held
    h.clock().Set(adopted + i * 250 * kMs);
    h.Lease("p", {Line(1, {gained}, 20, 2, 3, 2)});
  }
  h.clock().Set(adopted + 1750 * kMs);  // the hold is over
  const LeaseGrant after = h.Lease("p", {Line(1, {gained}, 20)});
  EXPECT_GT(after.items[0].ttl_ms, 0);
  EXPECT_GT(after.items[0].tokens, 0);
  // A second later the agent gets the rate (10/s), not less.
  h.clock().Set(adopted + 2750 * kMs);
  EXPECT_GE(h.Lease("p", {Line(1, {gained}, 20, 5, 5)}).items[0].tokens, 9);
}

TEST(LeaseLedgerClusterTest, FencedGrantsNothingUntilAHeartbeatSucceeds) {
  LedgerHarness h(Options());
  h.Connect("p");
  const ControllerSet two = Set(1, {"a", "b"});
  h.ledger().OnClusterHeartbeat(h.now(), two, two, h.now());
  const std::string mine = ValueOwnedBy(two, "a");
  h.clock().AdvanceMillis(1500);
  EXPECT_GT(h.Lease("p", {Line(1, {mine}, 5)}).items[0].tokens, 0);
  h.clock().AdvanceMillis(1);
  const LeaseGrant fenced = h.Lease("p", {Line(1, {mine}, 5)});
  EXPECT_EQ(fenced.items[0].tokens, 0);
  EXPECT_EQ(fenced.items[0].ttl_ms, 0);
  h.ledger().OnClusterHeartbeat(h.now(), two, two, h.now());
  EXPECT_GT(h.Lease("p", {Line(1, {mine}, 5)}).items[0].tokens, 0);
}

TEST(LeaseLedgerClusterTest, StartOverAfterTDeadDropsEveryBudget) {
  LedgerHarness h(Options());
  h.Connect("p");
  const ControllerSet two = Set(1, {"a", "b"});
  h.ledger().OnClusterHeartbeat(h.now(), two, two, h.now());
  const std::string mine = ValueOwnedBy(two, "a");
  EXPECT_GT(h.Lease("p", {Line(1, {mine}, 5)}).items[0].tokens, 0);
  EXPECT_GT(h.ledger().budget_count(), 0u);
  h.clock().AdvanceMillis(3001);
  const Adoption back =
      h.ledger().OnClusterHeartbeat(h.now(), Set(3, {"a", "b"}), two, h.now());
  EXPECT_TRUE(back.start_over);
  EXPECT_EQ(h.ledger().budget_count(), 0u);
  EXPECT_EQ(h.Lease("p", {Line(1, {mine}, 5)}).items[0].ttl_ms, 0);
}

}  // namespace
}  // namespace sluice
