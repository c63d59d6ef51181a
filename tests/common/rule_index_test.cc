#include "common/rule_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/common/alloc_counter.h"
#include "tests/common/test_rule.h"

namespace sluice {
namespace {

using testing_rules::MakeRule;

std::vector<int64_t> MatchIds(const RuleIndex& index, std::string_view domain,
                              const Descriptor& d) {
  std::vector<const Rule*> out;
  index.Match(domain, d, &out);
  std::vector<int64_t> ids;
  for (const Rule* rule : out) ids.push_back(rule->id);
  return ids;
}

using Ids = std::vector<int64_t>;

TEST(RuleIndexTest, EmptyIndexMatchesNothing) {
  auto index = RuleIndex::Empty();
  EXPECT_EQ(index->version(), 0);
  EXPECT_EQ(index->size(), 0u);
  EXPECT_EQ(MatchIds(*index, "api", {{"k", "v"}}), Ids{});
  EXPECT_EQ(index->Find(1), nullptr);
}

TEST(RuleIndexTest, ExactMatchNeedsEveryKeyWithTheSameValue) {
  auto index = RuleIndex::Build(
      {MakeRule(1, "api", {{"route", "/search"}, {"method", "GET"}})}, 5);
  EXPECT_EQ(index->version(), 5);
  EXPECT_EQ(MatchIds(*index, "api", {{"route", "/search"}, {"method", "GET"}}),
            Ids{1});
  // Order of the descriptor does not matter; extra keys do not matter.
  EXPECT_EQ(MatchIds(*index, "api",
                     {{"x", "1"}, {"method", "GET"}, {"route", "/search"}}),
            Ids{1});
  EXPECT_EQ(MatchIds(*index, "api", {{"route", "/search"}}), Ids{});
  EXPECT_EQ(MatchIds(*index, "api", {{"route", "/search"}, {"method", "PUT"}}),
            Ids{});
  EXPECT_EQ(MatchIds(*index, "api", {}), Ids{});
}

TEST(RuleIndexTest, WildcardMatchesAnyValueButNeedsTheKey) {
  auto index = RuleIndex::Build({MakeRule(1, "api", {{"client_id", "*"}})}, 1);
  EXPECT_EQ(MatchIds(*index, "api", {{"client_id", "42"}}), Ids{1});
  EXPECT_EQ(MatchIds(*index, "api", {{"client_id", ""}}), Ids{1});
  EXPECT_EQ(MatchIds(*index, "api", {{"client", "42"}}), Ids{});
}

TEST(RuleIndexTest, RuleWithoutMatchAppliesToEveryCheckInItsDomain) {
  auto index = RuleIndex::Build({MakeRule(3, "api", {})}, 1);
  EXPECT_EQ(MatchIds(*index, "api", {}), Ids{3});
  EXPECT_EQ(MatchIds(*index, "api", {{"a", "b"}}), Ids{3});
  EXPECT_EQ(MatchIds(*index, "other", {}), Ids{});
}

TEST(RuleIndexTest, MostSpecificWinsWithinAKeySet) {
  auto index = RuleIndex::Build({MakeRule(1, "api", {{"client_id", "*"}}),
                                 MakeRule(2, "api", {{"client_id", "acme"}})},
                                1);
  EXPECT_EQ(MatchIds(*index, "api", {{"client_id", "acme"}}), Ids{2});
  EXPECT_EQ(MatchIds(*index, "api", {{"client_id", "other"}}), Ids{1});
}

TEST(RuleIndexTest, MoreExactValuesWinRegardlessOfId) {
  auto index = RuleIndex::Build(
      {MakeRule(9, "api", {{"route", "/a"}, {"client_id", "acme"}}),
       MakeRule(1, "api", {{"route", "*"}, {"client_id", "*"}}),
       MakeRule(2, "api", {{"route", "/a"}, {"client_id", "*"}}),
       MakeRule(3, "api", {{"route", "*"}, {"client_id", "acme"}})},
      1);
  EXPECT_EQ(MatchIds(*index, "api", {{"route", "/a"}, {"client_id", "acme"}}),
            Ids{9});
  // Rules 2 and 3 are equally specific: the lower id wins.
  EXPECT_EQ(MatchIds(*index, "api", {{"route", "/a"}, {"client_id", "bob"}}),
            Ids{2});
  EXPECT_EQ(MatchIds(*index, "api", {{"route", "/b"}, {"client_id", "acme"}}),
            Ids{3});
  EXPECT_EQ(MatchIds(*index, "api", {{"route", "/b"}, {"client_id", "bob"}}),
            Ids{1});
}

TEST(RuleIndexTest, EquallySpecificTieGoesToTheLowestId) {
  auto index = RuleIndex::Build(
      {MakeRule(7, "api", {{"route", "/a"}, {"client_id", "*"}}),
       MakeRule(4, "api", {{"route", "*"}, {"client_id", "acme"}}),
       MakeRule(5, "api", {{"route", "/a"}, {"client_id", "*"}})},
      1);
  EXPECT_EQ(MatchIds(*index, "api", {{"route", "/a"}, {"client_id", "acme"}}),
            Ids{4});
  EXPECT_EQ(MatchIds(*index, "api", {{"route", "/a"}, {"client_id", "x"}}),
            Ids{5});
}

TEST(RuleIndexTest, DifferentKeySetsAllApply) {
  auto index = RuleIndex::Build(
      {MakeRule(1, "api", {{"client_id", "*"}}),
       MakeRule(2, "api", {{"route", "/search"}}),
       MakeRule(3, "api", {{"client_id", "*"}, {"route", "*"}}),
       MakeRule(4, "api", {})},
      1);
  Ids ids = MatchIds(*index, "api", {{"route", "/search"}, {"client_id", "7"}});
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (Ids{1, 2, 3, 4}));
  ids = MatchIds(*index, "api", {{"route", "/other"}, {"client_id", "7"}});
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (Ids{1, 3, 4}));
}

TEST(RuleIndexTest, OrderIsFixedByGroup) {
  auto a = RuleIndex::Build(
      {MakeRule(1, "api", {{"z", "*"}}), MakeRule(2, "api", {{"a", "*"}})}, 1);
  auto b = RuleIndex::Build(
      {MakeRule(2, "api", {{"a", "*"}}), MakeRule(1, "api", {{"z", "*"}})}, 1);
  Descriptor d = {{"z", "1"}, {"a", "2"}};
  EXPECT_EQ(MatchIds(*a, "api", d), MatchIds(*b, "api", d));
  EXPECT_EQ(MatchIds(*a, "api", d).size(), 2u);
}

TEST(RuleIndexTest, DisabledRulesAreLeftOut) {
  Rule disabled = MakeRule(2, "api", {{"client_id", "acme"}});
  disabled.enabled = false;
  auto index =
      RuleIndex::Build({MakeRule(1, "api", {{"client_id", "*"}}), disabled}, 1);
  EXPECT_EQ(index->size(), 1u);
  EXPECT_EQ(index->Find(2), nullptr);
  EXPECT_EQ(MatchIds(*index, "api", {{"client_id", "acme"}}), Ids{1});
}

TEST(RuleIndexTest, DomainsAreSeparate) {
  auto index = RuleIndex::Build({MakeRule(1, "api", {{"client_id", "*"}}),
                                 MakeRule(2, "login", {{"client_id", "*"}}),
                                 MakeRule(3, "api2", {{"client_id", "*"}})},
                                1);
  Descriptor d = {{"client_id", "1"}};
  EXPECT_EQ(MatchIds(*index, "api", d), Ids{1});
  EXPECT_EQ(MatchIds(*index, "login", d), Ids{2});
  EXPECT_EQ(MatchIds(*index, "api2", d), Ids{3});
  EXPECT_EQ(MatchIds(*index, "ap", d), Ids{});
  EXPECT_EQ(MatchIds(*index, "", d), Ids{});
  EXPECT_EQ(MatchIds(*index, "zzz", d), Ids{});
}

TEST(RuleIndexTest, RepeatedDescriptorKeyUsesTheFirstValue) {
  auto index = RuleIndex::Build({MakeRule(1, "api", {{"client_id", "acme"}}),
                                 MakeRule(2, "api", {{"client_id", "*"}})},
                                1);
  EXPECT_EQ(
      MatchIds(*index, "api", {{"client_id", "acme"}, {"client_id", "x"}}),
      Ids{1});
  EXPECT_EQ(
      MatchIds(*index, "api", {{"client_id", "x"}, {"client_id", "acme"}}),
      Ids{2});
}

TEST(RuleIndexTest, FindsRulesById) {
  auto index =
      RuleIndex::Build({MakeRule(5, "api", {}), MakeRule(3, "b", {})}, 1);
  ASSERT_NE(index->Find(5), nullptr);
  EXPECT_EQ(index->Find(5)->domain, "api");
  EXPECT_EQ(index->Find(3)->domain, "b");
  EXPECT_EQ(index->Find(4), nullptr);
  EXPECT_EQ(index->rules().size(), 2u);
}

TEST(RuleIndexTest, LeavesOutMalformedMatches) {
  Rule unsorted = MakeRule(1, "api", {});
  unsorted.match = {{"b", "*"}, {"a", "*"}};
  Rule too_many = MakeRule(2, "api", {});
  for (int i = 0; i < 17; ++i) {
    too_many.match.emplace_back(
        "k" + std::string(1, static_cast<char>('a' + i)), "*");
  }
  auto index =
      RuleIndex::Build({unsorted, too_many, MakeRule(3, "api", {})}, 1);
  EXPECT_EQ(index->size(), 1u);
  EXPECT_EQ(index->Find(3)->id, 3);
}

TEST(RuleIndexTest, ManyOverridesInOneGroup) {
  std::vector<Rule> rules = {MakeRule(1, "api", {{"client_id", "*"}})};
  for (int i = 0; i < 1000; ++i) {
    rules.push_back(
        MakeRule(100 + i, "api", {{"client_id", "c" + std::to_string(i)}}));
  }
  auto index = RuleIndex::Build(rules, 1);
  for (int i = 0; i < 1000; i += 37) {
    std::string value = "c" + std::to_string(i);
    EXPECT_EQ(MatchIds(*index, "api", {{"client_id", value}}), Ids{100 + i});
  }
  EXPECT_EQ(MatchIds(*index, "api", {{"client_id", "c1000"}}), Ids{1});
}

TEST(RuleIndexTest, MatchDoesNotAllocateOnceOutHasCapacity) {
  std::vector<Rule> rules = {
      MakeRule(1, "api", {{"client_id", "*"}}),
      MakeRule(2, "api", {{"client_id", "acme"}}),
      MakeRule(3, "api", {{"route", "/search"}, {"client_id", "*"}}),
      MakeRule(4, "api", {}),
      MakeRule(5, "login", {{"user", "*"}}),
  };
  auto index = RuleIndex::Build(rules, 1);
  std::vector<const Rule*> out;
  out.reserve(8);
  std::string long_value(100, 'x');  // no small-string tricks
  Descriptor d = {{"route", "/search"}, {"client_id", long_value}};
  int64_t before = testing_alloc::ThreadAllocations();
  for (int i = 0; i < 100; ++i) index->Match("api", d, &out);
  index->Match("login", d, &out);
  index->Match("nope", d, &out);
  index->Match("api", d, &out);
  EXPECT_EQ(testing_alloc::ThreadAllocations() - before, 0);
  EXPECT_EQ(out.size(), 3u);
}

}  // namespace
}  // namespace sluice
