// IfMatch: parsing the header and matching versions (pure).
#include "controller/api/if_match.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(IfMatchTest, AbsentOrBlankAllowsEverything) {
  for (const char* header : {"", "  "}) {
    StatusOr<VersionCondition> parsed = IfMatch::Parse(header);
    ASSERT_TRUE(parsed.ok());
    EXPECT_TRUE(parsed->Allows(1));
    EXPECT_TRUE(parsed->Allows(99));
  }
}

TEST(IfMatchTest, StarAllowsAnyVersion) {
  StatusOr<VersionCondition> parsed = IfMatch::Parse(" * ");
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->Allows(7));
}

TEST(IfMatchTest, ListsOfStrongAndWeakTags) {
  StatusOr<VersionCondition> parsed = IfMatch::Parse("\"3\", W/\"5\" ,\"x\"");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_TRUE(parsed->Allows(3));
  EXPECT_TRUE(parsed->Allows(5));
  EXPECT_FALSE(parsed->Allows(4));
  EXPECT_FALSE(parsed->Allows(30));
}

TEST(IfMatchTest, TagsThatAreNotVersionsMatchNothing) {
  StatusOr<VersionCondition> parsed = IfMatch::Parse("\"abc\", \"-1\"");
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(parsed->Allows(0));
  EXPECT_FALSE(parsed->Allows(1));
}

TEST(IfMatchTest, MalformedHeadersAreInvalidArgument) {
  for (const char* header :
       {"3", "\"3", "\"3\" \"4\"", "\"3\",", "W/3", "*, \"3\"", "'3'"}) {
    StatusOr<VersionCondition> parsed = IfMatch::Parse(header);
    EXPECT_FALSE(parsed.ok()) << header;
    EXPECT_EQ(parsed.status().field(), "If-Match") << header;
  }
}

TEST(IfMatchTest, ETagAndStale) {
  EXPECT_EQ(IfMatch::ETag(12), "\"12\"");
  StatusOr<VersionCondition> parsed = IfMatch::Parse("\"1\"");
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(parsed->Allows(2));
  Status stale = parsed->Stale("rule 4", 2);
  EXPECT_EQ(stale.code(), Status::Code::kAborted);
  EXPECT_NE(stale.message().find("If-Match \"1\""), std::string::npos);
  EXPECT_NE(stale.message().find("rule 4, which is now at version 2"),
            std::string::npos);
}

}  // namespace
}  // namespace sluice
