// The pure parts of following several controllers: the --controller list,
// member-to-connection mapping, learned endpoints, version adoption.
#include "agent/lease/controller_plan.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice {
namespace {

using Endpoints = std::vector<std::string>;

TEST(SplitControllerEndpointsTest, SplitsInOrder) {
  struct Case {
    std::string list;
    Endpoints endpoints;
  };
  const Case cases[] = {
      {"tcp://127.0.0.1:7070", {"tcp://127.0.0.1:7070"}},
      {"tcp://a:1,tcp://b:2", {"tcp://a:1", "tcp://b:2"}},
      {"tcp://c:1,tcp://a:1,tcp://b:1",
       {"tcp://c:1", "tcp://a:1", "tcp://b:1"}},
  };
  for (const Case& c : cases) {
    StatusOr<Endpoints> got = SplitControllerEndpoints(c.list);
    ASSERT_TRUE(got.ok()) << c.list << ": " << got.status().ToString();
    EXPECT_EQ(*got, c.endpoints);
  }
}

TEST(SplitControllerEndpointsTest, RefusesEmptyAndRepeatedElements) {
  struct Case {
    std::string list;
    std::string says;
  };
  const Case cases[] = {
      {"", "element 1 is empty"},
      {",tcp://a:1", "element 1 is empty"},
      {"tcp://a:1,", "element 2 is empty"},
      {"tcp://a:1,,tcp://b:1", "element 2 is empty"},
      {"tcp://a:1,tcp://a:1", "names 'tcp://a:1' twice"},
  };
  for (const Case& c : cases) {
    StatusOr<Endpoints> got = SplitControllerEndpoints(c.list);
    ASSERT_FALSE(got.ok()) << c.list;
    EXPECT_EQ(got.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(got.status().message().find(c.says), std::string::npos)
        << got.status().message();
  }
}

ControllerSet Set(int64_t version, std::vector<ControllerMember> members) {
  ControllerSet set;
  set.version = version;
  set.members = std::move(members);
  return set;
}

TEST(MapMembersTest, ByAnnouncedIdFirstThenByEndpoint) {
  const ControllerSet set =
      Set(3, {{"a", "tcp://a:1"}, {"b", "tcp://b:1"}, {"c", "tcp://c:1"}});
  struct Case {
    std::vector<ConnectionInfo> connections;
    std::vector<int> serving;
  };
  const Case cases[] = {
      // By endpoint, nobody announced yet.
      {{{"tcp://b:1", "", true}, {"tcp://a:1", "", true}}, {1, 0, -1}},
      // By id: a given endpoint spelled differently (localhost) serves a.
      {{{"tcp://localhost:1", "a", true}, {"tcp://a:1", "", false}},
       {0, -1, -1}},
      // A connection that announced another member does not serve by
      // endpoint; one that announced an id the set does not hold does.
      {{{"tcp://c:1", "b", true}}, {-1, 0, -1}},
      {{{"tcp://c:1", "old-c", true}}, {-1, -1, 0}},
      {{}, {-1, -1, -1}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(MapMembers(set, c.connections), c.serving);
  }
}

TEST(PlanEndpointsTest, ConnectsToNewMembersAndDropsLearnedOnesThatLeft) {
  struct Case {
    std::string name;
    ControllerSet set;
    std::vector<ConnectionInfo> connections;
    Endpoints connect;
    std::vector<int> drop;
  };
  const Case cases[] = {
      {"no set: nothing changes",
       Set(0, {}),
       {{"tcp://a:1", "", true}, {"tcp://x:1", "x", false}},
       {},
       {}},
      {"a fourth member is learned",
       Set(2, {{"a", "tcp://a:1"}, {"b", "tcp://b:1"}, {"d", "tcp://d:1"}}),
       {{"tcp://a:1", "a", true}, {"tcp://b:1", "b", true}},
       {"tcp://d:1"},
       {}},
      {"a learned member that left is dropped, given ones stay",
       Set(3, {{"a", "tcp://a:1"}}),
       {{"tcp://a:1", "a", true},
        {"tcp://b:1", "b", true},
        {"tcp://d:1", "d", false}},
       {},
       {2}},
      {"a learned duplicate of a given one is dropped",
       Set(3, {{"a", "tcp://a:1"}}),
       {{"tcp://localhost:1", "a", true}, {"tcp://a:1", "a", false}},
       {},
       {1}},
      {"a learned one not announced yet is kept while its endpoint is a "
       "member's",
       Set(3, {{"a", "tcp://a:1"}, {"d", "tcp://d:1"}}),
       {{"tcp://a:1", "a", true}, {"tcp://d:1", "", false}},
       {},
       {}},
      {"a member at an endpoint a connection already has is not connected "
       "twice",
       Set(4, {{"a2", "tcp://a:1"}}),
       {{"tcp://a:1", "a", true}},
       {},
       {}},
  };
  for (const Case& c : cases) {
    const EndpointPlan plan = PlanEndpoints(c.set, c.connections);
    EXPECT_EQ(plan.connect, c.connect) << c.name;
    EXPECT_EQ(plan.drop, c.drop) << c.name;
  }
}

TEST(VersionAdoptionTest, SetsAndRulesOnlyMoveForward) {
  EXPECT_TRUE(AdoptsControllerSet(0, 1));
  EXPECT_TRUE(AdoptsControllerSet(4, 5));
  EXPECT_FALSE(AdoptsControllerSet(5, 5));
  EXPECT_FALSE(AdoptsControllerSet(5, 4));
  EXPECT_FALSE(AdoptsControllerSet(5, 0));

  struct Case {
    bool have;
    int64_t held;
    int64_t offered;
    bool single;
    bool snapshot;   // AcceptsRulesSnapshot
    bool heartbeat;  // HeartbeatWantsRules
  };
  const Case cases[] = {
      {false, 0, 1, false, true, true},  // nothing held
      {false, 0, 0, true, true, true},
      {true, 5, 6, false, true, true},    // ahead
      {true, 5, 5, false, true, false},   // level
      {true, 5, 4, false, false, false},  // a lagging controller of several
      {true, 5, 4, true, true, true},     // the only controller went back
      {true, 5, 5, true, true, false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(AcceptsRulesSnapshot(c.have, c.held, c.offered, c.single),
              c.snapshot)
        << c.held << " " << c.offered << " " << c.single;
    EXPECT_EQ(HeartbeatWantsRules(c.have, c.held, c.offered, c.single),
              c.heartbeat)
        << c.held << " " << c.offered << " " << c.single;
  }
}

}  // namespace
}  // namespace sluice
