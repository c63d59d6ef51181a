#include "common/duration.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace {

TEST(DurationTest, ParsesEachUnit) {
  struct Case {
    const char* text;
    int64_t millis;
  } cases[] = {
      {"1ms", 1},       {"500ms", 500},
      {"1s", 1000},     {"90s", 90000},
      {"1m", 60000},    {"2h", 7200000},
      {"1d", 86400000}, {"365d", kMaxPeriodMillis},
      {"0010s", 10000},
  };
  for (const Case& c : cases) {
    StatusOr<int64_t> got = ParseDurationMillis(c.text);
    ASSERT_TRUE(got.ok()) << c.text << ": " << got.status().ToString();
    EXPECT_EQ(*got, c.millis) << c.text;
  }
}

struct BadCase {
  const char* text;
  const char* expected_part;
};

TEST(DurationTest, RefusesBadForms) {
  const BadCase cases[] = {
      {"", "is empty"},
      {"10", "the unit is missing"},
      {"10x", "unknown unit \"x\""},
      {"10S", "unknown unit \"S\""},
      {"10sec", "unknown unit \"sec\""},
      {"s", "the number is missing"},
      {"-5s", "a sign is not allowed"},
      {"+5s", "a sign is not allowed"},
      {"1.5s", "fractions are not allowed"},
      {".5s", "fractions are not allowed"},
      {"5 s", "spaces are not allowed"},
      {" 5s", "spaces are not allowed"},
      {"5s ", "spaces are not allowed"},
      {"0s", "too short"},
      {"0ms", "too short"},
      {"366d", "too long"},
      {"31536000001ms", "too long"},
      {"99999999999999999999999999d", "too long"},
      {"18446744073709551617ms", "too long"},
  };
  for (const BadCase& c : cases) {
    StatusOr<int64_t> got = ParseDurationMillis(c.text);
    ASSERT_FALSE(got.ok()) << c.text;
    EXPECT_EQ(got.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(got.status().message().find(c.expected_part), std::string::npos)
        << c.text << ": " << got.status().message();
  }
}

TEST(DurationTest, MessageNamesTheValueAndShowsTheAcceptedForm) {
  StatusOr<int64_t> got = ParseDurationMillis("10x", "period");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().message(),
            "period \"10x\": unknown unit \"x\"; write a whole number "
            "followed by ms, s, m, h or d, like \"500ms\" or \"1m\"");
  got = ParseDurationMillis("400d", "period");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().message(),
            "period \"400d\" is too long; the longest is 365d");
}

TEST(DurationTest, MessageEscapesControlCharacters) {
  StatusOr<int64_t> got = ParseDurationMillis(std::string("1\0s", 3));
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("\\x00"), std::string::npos)
      << got.status().message();
}

TEST(DurationTest, FormatsTheShortestExactForm) {
  EXPECT_EQ(FormatDurationMillis(1), "1ms");
  EXPECT_EQ(FormatDurationMillis(1500), "1500ms");
  EXPECT_EQ(FormatDurationMillis(1000), "1s");
  EXPECT_EQ(FormatDurationMillis(90000), "90s");
  EXPECT_EQ(FormatDurationMillis(60000), "1m");
  EXPECT_EQ(FormatDurationMillis(5400000), "90m");
  EXPECT_EQ(FormatDurationMillis(3600000), "1h");
  EXPECT_EQ(FormatDurationMillis(86400000), "1d");
  EXPECT_EQ(FormatDurationMillis(kMaxPeriodMillis), "365d");
  EXPECT_EQ(FormatDurationMillis(0), "0ms");
}

TEST(DurationTest, FormatThenParseRoundTrips) {
  for (int64_t millis :
       {int64_t{1}, int64_t{999}, int64_t{1000}, int64_t{1001}, int64_t{60000},
        int64_t{61000}, int64_t{3600000}, int64_t{86400000}, int64_t{86400001},
        int64_t{172800000}, kMaxPeriodMillis, kMaxPeriodMillis - 1}) {
    StatusOr<int64_t> parsed =
        ParseDurationMillis(FormatDurationMillis(millis));
    ASSERT_TRUE(parsed.ok()) << millis << ": " << parsed.status().ToString();
    EXPECT_EQ(*parsed, millis);
  }
}

}  // namespace
}  // namespace sluice
