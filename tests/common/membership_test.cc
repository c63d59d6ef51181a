#include "common/membership.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/bucket_key.h"

namespace sluice {
namespace {

ControllerSet MakeSet(int64_t version, std::vector<std::string> ids) {
  ControllerSet set;
  set.version = version;
  for (const std::string& id : ids) {
    set.members.push_back({id, "tcp://127.0.0.1:7070/" + id});
  }
  SortMembers(&set.members);
  return set;
}

std::string Key(int i) {
  return MakeBucketKey(7, {"client-" + std::to_string(i)});
}

// The hash is part of the agent-controller protocol: these values were
// computed independently of this code (FNV-1a 64, then the SplitMix64
// finaliser) and must never change.
TEST(MembershipTest, StableHashIsPinned) {
  EXPECT_EQ(StableHash(""), 0xf52a15e9a9b5e89bULL);
  EXPECT_EQ(StableHash("a"), 0x02c0bdbf481420f8ULL);
  EXPECT_EQ(StableHash("controller-1"), 0x5358d70e6aaaa216ULL);
  EXPECT_EQ(StableHash(MakeBucketKey(7, {"42"})), 0xa81deb0592cc3410ULL);
}

TEST(MembershipTest, OwnerIsPinnedToo) {
  Ownership ownership(MakeSet(1, {"c-a", "c-b", "c-c"}));
  EXPECT_EQ(ownership.OwnerOf(MakeBucketKey(7, {"42"}))->id, "c-b");
}

TEST(MembershipTest, NoMembersOwnNothing) {
  Ownership ownership;
  EXPECT_TRUE(ownership.empty());
  EXPECT_EQ(ownership.Owner(12345), -1);
  EXPECT_EQ(ownership.OwnerOf(Key(1)), nullptr);
}

TEST(MembershipTest, OneMemberOwnsEverything) {
  Ownership ownership(MakeSet(1, {"only"}));
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(ownership.OwnerOf(Key(i))->id, "only");
}

TEST(MembershipTest, BucketsSpreadEvenly) {
  Ownership ownership(MakeSet(3, {"c-1", "c-2", "c-3"}));
  std::vector<int> owned(3, 0);
  constexpr int kKeys = 30000;
  for (int i = 0; i < kKeys; ++i) ++owned[ownership.Owner(StableHash(Key(i)))];
  for (int n : owned) {
    EXPECT_GT(n, kKeys / 3 * 95 / 100);
    EXPECT_LT(n, kKeys / 3 * 105 / 100);
  }
}

TEST(MembershipTest, AJoinerTakesOnlyItsShare) {
  Ownership before(MakeSet(1, {"c-1", "c-2", "c-3"}));
  Ownership after(MakeSet(2, {"c-1", "c-2", "c-3", "c-4"}));
  constexpr int kKeys = 20000;
  int moved = 0;
  for (int i = 0; i < kKeys; ++i) {
    const std::string& was = before.OwnerOf(Key(i))->id;
    const std::string& is = after.OwnerOf(Key(i))->id;
    if (was != is) {
      ++moved;
      EXPECT_EQ(is, "c-4") << "a bucket moved between two old members";
    }
  }
  EXPECT_GT(moved, kKeys / 4 * 90 / 100);
  EXPECT_LT(moved, kKeys / 4 * 110 / 100);
}

TEST(MembershipTest, ALeaverGivesAwayOnlyItsOwn) {
  Ownership before(MakeSet(1, {"c-1", "c-2", "c-3"}));
  Ownership after(MakeSet(2, {"c-1", "c-3"}));
  for (int i = 0; i < 5000; ++i) {
    const std::string& was = before.OwnerOf(Key(i))->id;
    if (was != "c-2") {
      EXPECT_EQ(after.OwnerOf(Key(i))->id, was) << i;
    }
  }
}

TEST(MembershipTest, OwnerDoesNotDependOnOrderGiven) {
  ControllerSet a = MakeSet(1, {"x", "y", "z"});
  ControllerSet b = MakeSet(1, {"z", "x", "y"});
  EXPECT_EQ(a, b);
  Ownership oa(a), ob(b);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(oa.OwnerOf(Key(i))->id, ob.OwnerOf(Key(i))->id);
  }
  EXPECT_EQ(oa.IndexOf("y"), 1);
  EXPECT_EQ(oa.IndexOf("w"), -1);
}

TEST(MembershipTest, ValidationNamesWhatIsWrong) {
  EXPECT_TRUE(ValidateControllerSet(ControllerSet{}).ok());
  EXPECT_TRUE(ValidateControllerSet(MakeSet(4, {"a", "b"})).ok());

  ControllerSet unversioned = MakeSet(0, {"a"});
  EXPECT_EQ(ValidateControllerSet(unversioned).field(), "version");

  ControllerSet twice = MakeSet(1, {"a"});
  twice.members.push_back(twice.members[0]);
  Status dup = ValidateControllerSet(twice);
  EXPECT_FALSE(dup.ok());
  EXPECT_NE(dup.message().find("unique and sorted"), std::string::npos)
      << dup.message();

  ControllerSet unsorted = MakeSet(1, {"a", "b"});
  std::swap(unsorted.members[0], unsorted.members[1]);
  EXPECT_FALSE(ValidateControllerSet(unsorted).ok());

  ControllerSet no_endpoint = MakeSet(1, {"a"});
  no_endpoint.members[0].endpoint.clear();
  Status st = ValidateControllerSet(no_endpoint);
  EXPECT_NE(st.message().find("endpoint"), std::string::npos) << st.message();

  ControllerSet negative;
  negative.version = -1;
  EXPECT_FALSE(ValidateControllerSet(negative).ok());
}

}  // namespace
}  // namespace sluice
