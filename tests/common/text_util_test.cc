#include "common/text_util.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace text {
namespace {

TEST(TextUtilTest, ValidUtf8) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("Zürich €  \xf0\x9f\x98\x80"));
  EXPECT_TRUE(IsValidUtf8(std::string("a\0b", 3)));
}

TEST(TextUtilTest, InvalidUtf8) {
  for (const char* bad :
       {"\xff", "\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
        "\xf4\x90\x80\x80", "a\x80", "\xe2\x82"}) {
    EXPECT_FALSE(IsValidUtf8(bad)) << bad;
  }
}

TEST(TextUtilTest, QuoteEscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(Quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(Quote(std::string("a\n\0\x7f", 4)), "\"a\\x0a\\x00\\x7f\"");
  EXPECT_EQ(Quote("Zürich"), "\"Zürich\"");
}

TEST(TextUtilTest, QuoteIsAlwaysValidUtf8) {
  EXPECT_EQ(Quote("a\xff"), "\"a\\xff\"");
  EXPECT_EQ(Quote("\xc3"), "\"\\xc3\"");
  // Cut after the limit, never inside a character.
  std::string long_text(63, 'a');
  long_text += "éé";
  std::string quoted = Quote(long_text);
  EXPECT_TRUE(IsValidUtf8(quoted));
  EXPECT_EQ(quoted, "\"" + std::string(63, 'a') + "é...\"");
  EXPECT_EQ(Quote("abcdef", 3), "\"abc...\"");
  EXPECT_EQ(Quote("abc", 3), "\"abc\"");
}

TEST(TextUtilTest, CharAtReturnsWholeCharacters) {
  EXPECT_EQ(CharAt("aéb", 1), "é");
  EXPECT_EQ(CharAt("aéb", 0), "a");
  EXPECT_EQ(CharAt("a\xff", 1), "\xff");
}

}  // namespace
}  // namespace text
}  // namespace sluice
