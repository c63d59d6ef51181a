#include "common/bucket_key.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/common/alloc_counter.h"
#include "tests/common/test_rule.h"

namespace sluice {
namespace {

using testing_rules::MakeRule;

TEST(BucketKeyTest, LayoutIsRuleIdThenWildcardValues) {
  Rule rule = MakeRule(0x0102030405060708, "api",
                       {{"a_client", "*"}, {"b_route", "/x"}, {"c_user", "*"}});
  std::string key;
  BuildBucketKey(
      rule, {{"c_user", "bob"}, {"b_route", "/x"}, {"a_client", "42"}}, &key);
  const std::string expected =
      std::string("\x08\x07\x06\x05\x04\x03\x02\x01", 8) +
      std::string("\x02\x00\x00\x00", 4) + "42" +
      std::string("\x03\x00\x00\x00", 4) + "bob";
  EXPECT_EQ(key, expected);
}

TEST(BucketKeyTest, BuiltKeyEqualsMadeKey) {
  Rule rule = MakeRule(7, "api", {{"client_id", "*"}, {"route", "*"}});
  std::string built;
  BuildBucketKey(rule, {{"route", "/search"}, {"client_id", "42"}}, &built);
  EXPECT_EQ(built, MakeBucketKey(7, {"42", "/search"}));
}

TEST(BucketKeyTest, RuleWithoutWildcardsHasOneBucket) {
  Rule rule = MakeRule(9, "api", {{"route", "/search"}});
  std::string a, b;
  BuildBucketKey(rule, {{"route", "/search"}, {"client_id", "1"}}, &a);
  BuildBucketKey(rule, {{"route", "/search"}, {"client_id", "2"}}, &b);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.size(), 8u);
  EXPECT_EQ(BucketKeyRuleId(a), 9);
}

TEST(BucketKeyTest, DifferentValuesGiveDifferentKeys) {
  Rule rule = MakeRule(1, "api", {{"a", "*"}, {"b", "*"}});
  std::string k1, k2;
  // Length prefixes keep ("ab", "c") apart from ("a", "bc").
  BuildBucketKey(rule, {{"a", "ab"}, {"b", "c"}}, &k1);
  BuildBucketKey(rule, {{"a", "a"}, {"b", "bc"}}, &k2);
  EXPECT_NE(k1, k2);
}

TEST(BucketKeyTest, ParseRoundTrips) {
  std::vector<std::string> values = {"42", "", std::string("\0\xff", 2),
                                     std::string(300, 'v')};
  std::string key = MakeBucketKey(-3, values);
  int64_t id = 0;
  std::vector<std::string> parsed;
  ASSERT_TRUE(ParseBucketKey(key, &id, &parsed));
  EXPECT_EQ(id, -3);
  EXPECT_EQ(parsed, values);
  EXPECT_EQ(BucketKeyRuleId(key), -3);

  ASSERT_TRUE(ParseBucketKey(MakeBucketKey(5, {}), &id, &parsed));
  EXPECT_EQ(id, 5);
  EXPECT_TRUE(parsed.empty());
}

TEST(BucketKeyTest, ParseRefusesMalformedKeys) {
  int64_t id = 0;
  std::vector<std::string> parsed = {"stale"};
  std::string good = MakeBucketKey(1, {"abc"});
  EXPECT_FALSE(ParseBucketKey("", &id, &parsed));
  EXPECT_FALSE(ParseBucketKey(good.substr(0, 7), &id, &parsed));
  EXPECT_FALSE(ParseBucketKey(good.substr(0, 10), &id, &parsed));  // length cut
  EXPECT_FALSE(ParseBucketKey(good.substr(0, good.size() - 1), &id, &parsed));
  EXPECT_FALSE(ParseBucketKey(good + "x", &id, &parsed));
  std::string huge = MakeBucketKey(1, {}) + std::string("\xff\xff\xff\xff", 4);
  EXPECT_FALSE(ParseBucketKey(huge, &id, &parsed));
  EXPECT_TRUE(parsed.empty());
  EXPECT_EQ(BucketKeyRuleId("short"), 0);
}

TEST(BucketKeyTest, BuildDoesNotAllocateOnceOutHasCapacity) {
  Rule rule = MakeRule(1, "api", {{"client_id", "*"}, {"route", "*"}});
  std::string value(200, 'c');
  Descriptor d = {{"client_id", value}, {"route", "/search"}};
  std::string key;
  key.reserve(512);
  int64_t before = testing_alloc::ThreadAllocations();
  for (int i = 0; i < 10; ++i) BuildBucketKey(rule, d, &key);
  EXPECT_EQ(testing_alloc::ThreadAllocations() - before, 0);
  EXPECT_EQ(key, MakeBucketKey(1, {value, "/search"}));
}

}  // namespace
}  // namespace sluice
