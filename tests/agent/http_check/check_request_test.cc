// The HTTP check's request target (agent/http_check/check_request.h):
// what is accepted, how it is decoded, and what each refusal says.
#include "agent/http_check/check_request.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace sluice::http_check {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

CheckQuery Parse(const std::string& target) {
  CheckQuery query;
  CheckError error;
  EXPECT_TRUE(ParseCheckTarget(target, &query, &error))
      << target << ": " << error.message;
  return query;
}

CheckError Refuse(const std::string& target) {
  CheckQuery query;
  CheckError error;
  EXPECT_FALSE(ParseCheckTarget(target, &query, &error)) << target;
  EXPECT_EQ(error.status, 400) << target;
  return error;
}

TEST(CheckRequestTest, DomainPairsAndDefaultCost) {
  const CheckQuery q = Parse("/v1/check/api?client_id=42&route=/search");
  EXPECT_EQ(q.domain, "api");
  EXPECT_EQ(q.cost, 1);
  EXPECT_EQ(q.pairs, (Pairs{{"client_id", "42"}, {"route", "/search"}}));
}

TEST(CheckRequestTest, CostAnywhereInTheQuery) {
  EXPECT_EQ(Parse("/v1/check/api?cost=3&k=v").cost, 3);
  EXPECT_EQ(Parse("/v1/check/api?k=v&cost=0").cost, 0);
  EXPECT_EQ(Parse("/v1/check/api?k=v&cost=9007199254740992").cost,
            int64_t{1} << 53);
  EXPECT_EQ(Parse("/v1/check/api?k=v&cost=0").pairs, (Pairs{{"k", "v"}}));
}

TEST(CheckRequestTest, PercentAndPlusDecoding) {
  const CheckQuery q =
      Parse("/v1/check/my%2Fdomain?user=a%20b+c&route=%2Fx%3Fy%26z&e=&%41=1");
  EXPECT_EQ(q.domain, "my/domain");
  EXPECT_EQ(
      q.pairs,
      (Pairs{{"user", "a b c"}, {"route", "/x?y&z"}, {"e", ""}, {"A", "1"}}));
  EXPECT_EQ(Parse("/v1/check/api?k=1%2B1").pairs, (Pairs{{"k", "1+1"}}));
}

TEST(CheckRequestTest, EmptyParametersAreSkipped) {
  EXPECT_EQ(Parse("/v1/check/api?&a=1&&b=2&").pairs,
            (Pairs{{"a", "1"}, {"b", "2"}}));
}

TEST(CheckRequestTest, RefusalsSayWhatWasWrongAndWhatIsRight) {
  struct Case {
    std::string target;
    std::string code;
    std::string says;
    std::string field;
  };
  const Case cases[] = {
      {"/v2/check/api?a=1", "unknown_path", "the only path is /v1/check/", ""},
      {"/", "unknown_path", "unknown path '/'", ""},
      {"/v1/check/api/x?a=1", "unknown_path", "one path segment", ""},
      {"/v1/check/?a=1", "invalid_argument", "names no domain", "domain"},
      {"/v1/check", "invalid_argument", "names no domain", "domain"},
      {"/v1/check/a%zz?a=1", "invalid_argument", "write a '%' as %25",
       "domain"},
      {"/v1/check/api", "invalid_argument", "?client_id=42", "query"},
      {"/v1/check/api?cost=2", "invalid_argument", "no key=value pairs",
       "query"},
      {"/v1/check/api?a=1&cost=x", "invalid_argument",
       "whole number from 0 to 9007199254740992", "cost"},
      {"/v1/check/api?a=1&cost=-1", "invalid_argument", "cost '-1'", "cost"},
      {"/v1/check/api?a=1&cost=9007199254740993", "invalid_argument",
       "not valid", "cost"},
      {"/v1/check/api?a=1&cost=", "invalid_argument", "cost ''", "cost"},
      {"/v1/check/api?a=1&cost=1&cost=1", "invalid_argument",
       "cost is given twice", "cost"},
      {"/v1/check/api?a=1&b=2&a=3", "invalid_argument", "key 'a' appears twice",
       "a"},
      {"/v1/check/api?client_id", "invalid_argument", "has no '='",
       "client_id"},
      {"/v1/check/api?=1", "invalid_argument", "empty key", ""},
      {"/v1/check/api?a=%4", "invalid_argument", "two hex digits", "a"},
  };
  for (const Case& c : cases) {
    const CheckError e = Refuse(c.target);
    EXPECT_EQ(e.code, c.code) << c.target;
    EXPECT_NE(e.message.find(c.says), std::string::npos)
        << c.target << ": " << e.message;
    EXPECT_EQ(e.field, c.field) << c.target;
  }
}

TEST(CheckRequestTest, LimitsOnLengthAndPairs) {
  std::string target = "/v1/check/api?k=" + std::string(kMaxTargetBytes, 'x');
  CheckError e = Refuse(target);
  EXPECT_EQ(e.code, "url_too_long");
  EXPECT_NE(e.message.find("at most 4096"), std::string::npos);

  target = "/v1/check/api?";
  for (size_t i = 0; i <= kMaxPairs; ++i) {
    target += "k" + std::to_string(i) + "=v&";
  }
  e = Refuse(target);
  EXPECT_NE(e.message.find("at most 128"), std::string::npos) << e.message;
}

TEST(CheckRequestTest, QuotedIsPrintableAndBounded) {
  EXPECT_EQ(Quoted("a\nb\xff"), "'a?b?'");
  EXPECT_EQ(Quoted(std::string(100, 'z')), "'" + std::string(64, 'z') + "...'");
}

}  // namespace
}  // namespace sluice::http_check
