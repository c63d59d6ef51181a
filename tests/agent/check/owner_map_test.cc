// OwnerMap: routing of bucket keys to controller connections, table tests.
#include "agent/check/owner_map.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/bucket_key.h"
#include "common/membership.h"

namespace sluice {
namespace {

ControllerSet ThreeMembers() {
  ControllerSet set;
  set.version = 4;
  set.members = {{"a", "tcp://a:1"}, {"b", "tcp://b:1"}, {"c", "tcp://c:1"}};
  return set;
}

std::vector<std::string> Keys(int n) {
  std::vector<std::string> keys;
  for (int i = 0; i < n; ++i) {
    keys.push_back(MakeBucketKey(7, {"client-" + std::to_string(i)}));
  }
  return keys;
}

TEST(OwnerMapTest, NothingKnownRoutesNowhere) {
  const OwnerMap map;
  EXPECT_EQ(map.Route("any"), -1);
  EXPECT_FALSE(map.any_reachable());
  EXPECT_FALSE(map.all_reachable());
  EXPECT_EQ(map.version(), 0);
}

TEST(OwnerMapTest, WithNoSetEverythingGoesToTheFirstReachable) {
  struct Case {
    std::vector<bool> reachable;
    int route;
  };
  const Case cases[] = {
      {{true}, 0},
      {{false}, -1},
      {{true, true, true}, 0},
      {{false, true, true}, 1},
      {{false, false, true}, 2},
      {{false, false, false}, -1},
  };
  for (const Case& c : cases) {
    const OwnerMap map(Ownership(), {}, c.reachable);
    for (const std::string& key : Keys(20)) {
      EXPECT_EQ(map.Route(key), c.route);
    }
    EXPECT_EQ(map.any_reachable(), c.route >= 0);
    EXPECT_EQ(map.all_reachable(), c.route >= 0);
  }
}

TEST(OwnerMapTest, RoutesEachKeyToItsOwnersConnection) {
  const ControllerSet set = ThreeMembers();
  const Ownership ownership(set);
  // Members a, b, c served by connections 2, 0, 1.
  const OwnerMap map(ownership, {2, 0, 1}, {true, true, true});
  EXPECT_TRUE(map.all_reachable());
  EXPECT_EQ(map.version(), 4);
  const int connection_of[] = {2, 0, 1};
  std::vector<int> per_connection(3, 0);
  for (const std::string& key : Keys(300)) {
    const int owner = ownership.Owner(StableHash(key));
    ASSERT_GE(owner, 0);
    EXPECT_EQ(map.Route(key), connection_of[owner]) << key;
    ++per_connection[static_cast<size_t>(map.Route(key))];
  }
  // Rendezvous hashing spreads the keys over every member.
  for (int count : per_connection) EXPECT_GT(count, 50);
}

TEST(OwnerMapTest, KeysOfAnUnreachableOrUnservedOwnerRouteNowhere) {
  struct Case {
    std::vector<int> member_connection;
    std::vector<bool> reachable;
    std::vector<bool> member_routed;  // per member a, b, c
    bool any;
    bool all;
  };
  const Case cases[] = {
      {{0, 1, 2}, {true, false, true}, {true, false, true}, true, false},
      {{0, -1, 2}, {true, true, true}, {true, false, true}, true, false},
      {{0, 1, 2}, {false, false, false}, {false, false, false}, false, false},
      {{-1, -1, -1}, {true}, {false, false, false}, false, false},
      {{0, 0, 0}, {true}, {true, true, true}, true, true},
      // A connection index beyond the connections is none.
      {{0, 1, 7}, {true, true}, {true, true, false}, true, false},
  };
  const Ownership ownership(ThreeMembers());
  for (const Case& c : cases) {
    const OwnerMap map(ownership, c.member_connection, c.reachable);
    EXPECT_EQ(map.any_reachable(), c.any);
    EXPECT_EQ(map.all_reachable(), c.all);
    for (const std::string& key : Keys(60)) {
      const size_t owner =
          static_cast<size_t>(ownership.Owner(StableHash(key)));
      if (c.member_routed[owner]) {
        EXPECT_EQ(map.Route(key), c.member_connection[owner]);
        EXPECT_TRUE(map.Reachable(key));
      } else {
        EXPECT_EQ(map.Route(key), -1);
        EXPECT_FALSE(map.Reachable(key));
      }
    }
  }
}

}  // namespace
}  // namespace sluice
