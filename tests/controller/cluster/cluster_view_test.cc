// ClusterView on an injected clock: fencing, holding, losing, starting over.
#include "controller/cluster/cluster_view.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kTtlMs = 1000;

ControllerSet Set(int64_t version, std::vector<std::string> ids) {
  ControllerSet set;
  set.version = version;
  for (const std::string& id : ids) {
    set.members.push_back({id, "tcp://" + id + ":7070"});
  }
  SortMembers(&set.members);
  return set;
}

// A key hash owned by `id` in `set` (and, when `other_set` is given, by
// `other_owner` there).
uint64_t KeyOwnedBy(const ControllerSet& set, const std::string& id,
                    const ControllerSet* other_set = nullptr,
                    const std::string& other_owner = "") {
  Ownership ownership(set);
  Ownership other(other_set != nullptr ? *other_set : ControllerSet{});
  for (uint64_t k = 1;; ++k) {
    const uint64_t hash = StableHash(std::to_string(k));
    if (set.members[ownership.Owner(hash)].id != id) continue;
    if (other_set != nullptr &&
        other_set->members[other.Owner(hash)].id != other_owner) {
      continue;
    }
    return hash;
  }
}

TEST(ClusterViewTest, NothingAdoptedOwnsEverythingAndNeverFences) {
  ClusterView view("a", kTtlMs, ClusterTimings{});
  EXPECT_EQ(view.version(), 0);
  EXPECT_FALSE(view.shared());
  EXPECT_FALSE(view.fenced(100'000 * kMs));
  EXPECT_EQ(view.StateOf(StableHash("x"), 5 * kMs), BucketState::kOwned);
}

TEST(ClusterViewTest, AloneOnTheDatabaseHoldsNothingAndDoesNotFence) {
  ClusterView view("a", kTtlMs, ClusterTimings{});
  // The stored set named an earlier incarnation on the same endpoint.
  ControllerSet before;
  before.version = 4;
  before.members.push_back({"a-old", "tcp://a:7070"});
  Adoption adoption = view.OnHeartbeat(10 * kMs, 11 * kMs, Set(5, {"a"}),
                                       before, "tcp://a:7070");
  EXPECT_TRUE(adoption.set_changed);
  EXPECT_FALSE(adoption.start_over);
  EXPECT_FALSE(view.holding(11 * kMs));
  EXPECT_FALSE(view.shared());
  EXPECT_EQ(view.StateOf(StableHash("x"), 12 * kMs), BucketState::kOwned);
  // A single controller keeps granting through a database outage.
  EXPECT_FALSE(view.fenced(60'000 * kMs));
}

TEST(ClusterViewTest, FencesAtTFenceNotBefore) {
  ClusterTimings timings;  // P 250, T_fence 1500, T_dead 3000
  ClusterView view("a", kTtlMs, timings);
  view.OnHeartbeat(0, 1 * kMs, Set(1, {"a", "b"}), ControllerSet{},
                   "tcp://a:7070");
  EXPECT_FALSE(view.fenced(1500 * kMs));
  EXPECT_TRUE(view.fenced(1500 * kMs + 1));
  // A heartbeat that succeeds (same set) lifts the fence.
  Adoption again = view.OnHeartbeat(1600 * kMs, 1610 * kMs, Set(1, {"a", "b"}),
                                    ControllerSet{}, "tcp://a:7070");
  EXPECT_FALSE(again.set_changed);
  EXPECT_FALSE(again.start_over);
  EXPECT_FALSE(view.fenced(1700 * kMs));
  EXPECT_TRUE(view.fenced(3100 * kMs + 1));
}

TEST(ClusterViewTest, JoinerHoldsWhatItGainsForTtlPlusTwoPPlus250) {
  ClusterView view("c", kTtlMs, ClusterTimings{});
  const ControllerSet before = Set(7, {"a", "b"});
  const ControllerSet after = Set(8, {"a", "b", "c"});
  view.OnHeartbeat(0, 100 * kMs, after, before, "tcp://c:7070");
  const uint64_t mine = KeyOwnedBy(after, "c");
  const uint64_t theirs = KeyOwnedBy(after, "a");
  const int64_t hold_end = 100 * kMs + (kTtlMs + 2 * 250 + 250) * kMs;
  EXPECT_EQ(view.hold_until(), hold_end);
  EXPECT_EQ(view.StateOf(mine, hold_end - 1), BucketState::kHeld);
  EXPECT_TRUE(view.holding(hold_end - 1));
  EXPECT_EQ(view.StateOf(mine, hold_end), BucketState::kOwned);
  EXPECT_FALSE(view.holding(hold_end));
  EXPECT_EQ(view.StateOf(theirs, 0), BucketState::kNotOwned);
  EXPECT_EQ(view.StateOf(theirs, hold_end), BucketState::kNotOwned);
}

TEST(ClusterViewTest, LosingAndKeepingBucketsWhenAMemberJoins) {
  ClusterView view("a", kTtlMs, ClusterTimings{});
  const ControllerSet one = Set(1, {"a", "b"});
  view.OnHeartbeat(0, 0, one, ControllerSet{}, "tcp://a:7070");
  // Everything gained at the first adoption (from nobody but b) is held;
  // wait it out.
  const int64_t t = 10'000 * kMs;
  view.OnHeartbeat(t, t, one, one, "tcp://a:7070");
  const ControllerSet two = Set(2, {"a", "b", "c"});
  const uint64_t kept = KeyOwnedBy(two, "a", &one, "a");
  const uint64_t lost = KeyOwnedBy(two, "c", &one, "a");
  ASSERT_EQ(view.StateOf(lost, t), BucketState::kOwned);
  Adoption adoption =
      view.OnHeartbeat(t + 250 * kMs, t + 260 * kMs, two, one, "tcp://a:7070");
  EXPECT_TRUE(adoption.set_changed);
  EXPECT_EQ(view.StateOf(kept, t + 261 * kMs), BucketState::kOwned);
  EXPECT_EQ(view.StateOf(lost, t + 261 * kMs), BucketState::kNotOwned);
}

TEST(ClusterViewTest, GainsFromALeaverAreHeldAndHoldsStack) {
  ClusterView view("a", kTtlMs, ClusterTimings{});
  const ControllerSet three = Set(1, {"a", "b", "c"});
  view.OnHeartbeat(0, 0, three, three, "tcp://a:7070");
  const int64_t t = 10'000 * kMs;
  const ControllerSet two = Set(2, {"a", "b"});
  const uint64_t from_c = KeyOwnedBy(two, "a", &three, "c");
  view.OnHeartbeat(t, t, two, three, "tcp://a:7070");
  EXPECT_EQ(view.StateOf(from_c, t + 1), BucketState::kHeld);
  // Another change 500 ms later: what came from c stays held until its
  // own hold ends, though a owned it in the set just before.
  const ControllerSet three_again = Set(3, {"a", "b", "d"});
  uint64_t key = 0;
  for (uint64_t k = 1; key == 0; ++k) {
    const uint64_t h = StableHash("k" + std::to_string(k));
    if (three.members[Ownership(three).Owner(h)].id == "c" &&
        two.members[Ownership(two).Owner(h)].id == "a" &&
        three_again.members[Ownership(three_again).Owner(h)].id == "a") {
      key = h;
    }
  }
  const int64_t t2 = t + 500 * kMs;
  view.OnHeartbeat(t2, t2, three_again, three, "tcp://a:7070");
  const int64_t first_end = t + 1750 * kMs;
  EXPECT_EQ(view.StateOf(key, first_end - 1), BucketState::kHeld);
  EXPECT_EQ(view.StateOf(key, first_end), BucketState::kOwned);
  EXPECT_EQ(view.hold_until(), t2 + 1750 * kMs);
}

TEST(ClusterViewTest, StartsOverAfterBeingGonePastTDeadWhenTheSetMoved) {
  ClusterView view("a", kTtlMs, ClusterTimings{});
  const ControllerSet two = Set(1, {"a", "b"});
  view.OnHeartbeat(0, 0, two, ControllerSet{}, "tcp://a:7070");
  const uint64_t mine = KeyOwnedBy(two, "a");
  // Gone 3 s exactly: not past T_dead, and the set did not move.
  Adoption back = view.OnHeartbeat(3000 * kMs, 3000 * kMs, two, two, "x");
  EXPECT_FALSE(back.start_over);
  // Gone past T_dead, set unchanged (nobody took our buckets): go on.
  back = view.OnHeartbeat(6001 * kMs, 6001 * kMs, two, two, "x");
  EXPECT_FALSE(back.start_over);
  EXPECT_EQ(view.StateOf(mine, 6002 * kMs), BucketState::kOwned);
  // Gone past T_dead and the set moved (b alone, then both again).
  const ControllerSet again = Set(3, {"a", "b"});
  back = view.OnHeartbeat(9002 * kMs, 9010 * kMs, again, two, "x");
  EXPECT_TRUE(back.start_over);
  EXPECT_TRUE(back.set_changed);
  EXPECT_EQ(view.StateOf(mine, 9011 * kMs), BucketState::kHeld);
  EXPECT_EQ(view.StateOf(mine, 9010 * kMs + 1750 * kMs), BucketState::kOwned);
}

TEST(ClusterViewTest, NotInTheSetOwnsNothingAndFences) {
  ClusterView view("z", kTtlMs, ClusterTimings{});
  view.OnHeartbeat(0, 0, Set(2, {"a"}), ControllerSet{}, "tcp://z:7070");
  EXPECT_EQ(view.StateOf(StableHash("k"), 1), BucketState::kNotOwned);
  EXPECT_TRUE(view.fenced(1501 * kMs));
}

TEST(ClusterViewTest, AnOlderVersionIsIgnored) {
  ClusterView view("a", kTtlMs, ClusterTimings{});
  view.OnHeartbeat(0, 0, Set(5, {"a", "b"}), ControllerSet{}, "x");
  Adoption stale =
      view.OnHeartbeat(10, 10, Set(4, {"a"}), ControllerSet{}, "x");
  EXPECT_FALSE(stale.set_changed);
  EXPECT_EQ(view.version(), 5);
}

}  // namespace
}  // namespace sluice
