// Query strings and ids for the admin API handlers (pure).
#include "controller/api/api_support.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(ApiSupportTest, ParsesAndDecodesQueries) {
  auto params = api::ParseQuery("since=2026-01-01T00:00:00%2B02:00&limit=5",
                                {"since", "limit"});
  ASSERT_TRUE(params.ok()) << params.status().ToString();
  EXPECT_EQ(params->at("since"), "2026-01-01T00:00:00+02:00");
  EXPECT_EQ(params->at("limit"), "5");
  auto plus = api::ParseQuery("since=a+b&", {"since"});
  ASSERT_TRUE(plus.ok());
  EXPECT_EQ(plus->at("since"), "a+b");
  auto flag = api::ParseQuery("dry_run", {"dry_run"});
  ASSERT_TRUE(flag.ok());
  EXPECT_EQ(flag->at("dry_run"), "");
  EXPECT_TRUE(api::ParseQuery("", {}).ok());
}

TEST(ApiSupportTest, RefusesBadQueries) {
  struct Case {
    const char* query;
    const char* field;
  };
  for (const Case& c :
       {Case{"x=1", "x"}, Case{"since=%zz", "since"}, Case{"since=%2", "since"},
        Case{"limit=1&limit=2", "limit"}}) {
    auto parsed = api::ParseQuery(c.query, {"since", "limit"});
    EXPECT_FALSE(parsed.ok()) << c.query;
    EXPECT_EQ(parsed.status().field(), c.field) << c.query;
  }
}

TEST(ApiSupportTest, Ids) {
  EXPECT_EQ(api::ParseId("42"), 42);
  for (const char* bad : {"", "0", "-1", "+1", "1a", "1234567890123456789"}) {
    EXPECT_LE(api::ParseId(bad), 0) << bad;
  }
}

}  // namespace
}  // namespace sluice
