#include "common/rule_json.h"

#include <gtest/gtest.h>

#include <string>

#include "common/duration.h"
#include "tests/common/test_rule.h"

namespace sluice {
namespace {

using nlohmann::json;
using testing_rules::MakeRule;

json ValidJson() {
  return json::parse(R"({
    "name": "search-per-client", "domain": "api",
    "match": {"route": "/search", "client_id": "*"},
    "limit": 100, "period": "1s", "burst": 200,
    "mode": "shadow", "failure_mode": "open", "enabled": false})");
}

// The error for `j`; fails the test when `j` is accepted.
Status ErrorFor(const json& j) {
  StatusOr<Rule> rule = RuleFromJson(j);
  EXPECT_FALSE(rule.ok()) << j.dump();
  return rule.ok() ? Status::Ok() : rule.status();
}

// `field` of the valid rule replaced by `value`.
json With(const char* field, json value) {
  json j = ValidJson();
  j[field] = std::move(value);
  return j;
}

json Without(const char* field) {
  json j = ValidJson();
  j.erase(field);
  return j;
}

TEST(RuleJsonTest, ParsesAValidRule) {
  StatusOr<Rule> rule = RuleFromJson(ValidJson());
  ASSERT_TRUE(rule.ok()) << rule.status().ToString();
  EXPECT_EQ(rule->id, 0);
  EXPECT_EQ(rule->version, 0);
  EXPECT_EQ(rule->name, "search-per-client");
  EXPECT_EQ(rule->domain, "api");
  // Sorted by key.
  ASSERT_EQ(rule->match.size(), 2u);
  EXPECT_EQ(rule->match[0],
            std::make_pair(std::string("client_id"), std::string("*")));
  EXPECT_EQ(rule->match[1],
            std::make_pair(std::string("route"), std::string("/search")));
  EXPECT_EQ(rule->limit, 100);
  EXPECT_EQ(rule->period_ms, 1000);
  EXPECT_EQ(rule->burst, 200);
  EXPECT_EQ(rule->mode, RuleMode::kShadow);
  EXPECT_EQ(rule->failure_mode, FailureMode::kOpen);
  EXPECT_FALSE(rule->enabled);
  EXPECT_TRUE(ValidateRule(*rule).ok());
}

TEST(RuleJsonTest, AppliesDefaults) {
  StatusOr<Rule> rule = RuleFromJson(json::parse(
      R"({"name": "n", "domain": "d", "limit": 7, "period": "1m"})"));
  ASSERT_TRUE(rule.ok()) << rule.status().ToString();
  EXPECT_TRUE(rule->match.empty());
  EXPECT_EQ(rule->burst, 7);
  EXPECT_EQ(rule->period_ms, 60000);
  EXPECT_EQ(rule->mode, RuleMode::kEnforce);
  EXPECT_EQ(rule->failure_mode, FailureMode::kLocal);
  EXPECT_TRUE(rule->enabled);
}

TEST(RuleJsonTest, NullOptionalFieldsTakeTheirDefaults) {
  StatusOr<Rule> rule = RuleFromJson(json::parse(
      R"({"name": "n", "domain": "d", "limit": 7, "period": "1s",
          "match": null, "burst": null, "mode": null, "failure_mode": null,
          "enabled": null})"));
  ASSERT_TRUE(rule.ok()) << rule.status().ToString();
  EXPECT_EQ(rule->burst, 7);
  EXPECT_TRUE(rule->enabled);
}

TEST(RuleJsonTest, CopiesIdAndVersion) {
  json j = ValidJson();
  j["id"] = 12;
  j["version"] = 3;
  StatusOr<Rule> rule = RuleFromJson(j);
  ASSERT_TRUE(rule.ok()) << rule.status().ToString();
  EXPECT_EQ(rule->id, 12);
  EXPECT_EQ(rule->version, 3);
}

TEST(RuleJsonTest, RefusesANonObject) {
  for (const char* text : {"[]", "\"rule\"", "42", "null"}) {
    Status st = ErrorFor(json::parse(text));
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
    EXPECT_NE(st.message().find("must be a JSON object"), std::string::npos)
        << st.message();
  }
}

TEST(RuleJsonTest, RefusesUnknownFields) {
  Status st = ErrorFor(With("limt", 5));
  EXPECT_EQ(st.field(), "limt");
  EXPECT_EQ(st.message(),
            "unknown field \"limt\"; a rule has only id, version, name, "
            "domain, match, limit, period, burst, mode, failure_mode and "
            "enabled");
}

TEST(RuleJsonTest, RequiresNameDomainLimitAndPeriod) {
  for (const char* field : {"name", "domain", "limit", "period"}) {
    Status st = ErrorFor(Without(field));
    EXPECT_EQ(st.field(), field);
    EXPECT_NE(st.message().find(std::string(field) + " is required"),
              std::string::npos)
        << st.message();
  }
}

struct FieldCase {
  const char* field;
  json value;
  const char* error_field;
  const char* expected_message;  // exact, or a part of it
};

TEST(RuleJsonTest, ReportsEachFieldsErrorAndWhatWouldBeValid) {
  const std::string max = "9007199254740992";
  const FieldCase cases[] = {
      {"limit", -5, "limit",
       "limit must be an integer from 1 to 9007199254740992, got -5"},
      {"limit", 0, "limit", "got 0"},
      {"limit", 1.5, "limit", "got 1.5"},
      {"limit", "100", "limit", "got \"100\""},
      {"limit", (1LL << 53) + 1, "limit", "got 9007199254740993"},
      {"limit", json::array({1}), "limit", "got an array"},
      {"limit", 18446744073709551615ULL, "limit", "got 18446744073709551615"},
      {"burst", 0, "burst",
       "burst must be an integer from 1 to 9007199254740992, got 0"},
      {"burst", true, "burst", "got true"},
      {"period", "10x", "period",
       "period \"10x\": unknown unit \"x\"; write a whole number followed by "
       "ms, s, m, h or d, like \"500ms\" or \"1m\""},
      {"period", 1000, "period",
       "period must be a string like \"1s\" or \"500ms\", got 1000"},
      {"period", "0s", "period", "too short"},
      {"name", "", "name", "name must not be empty"},
      {"name", "has space", "name",
       "name \"has space\" contains \" \" at byte 3, which is not allowed; "
       "use only letters, digits and _ . : / -"},
      {"name", std::string(129, 'a'), "name",
       "name is 129 bytes long; the most allowed is 128"},
      {"name", 7, "name", "name must be a string"},
      {"domain", "a*b", "domain", "domain \"a*b\" contains \"*\" at byte 1"},
      {"domain", json(nullptr), "domain", "got null"},
      {"mode", "block", "mode",
       "mode must be \"enforce\" or \"shadow\", got \"block\""},
      {"failure_mode", "fail", "failure_mode",
       "failure_mode must be \"open\", \"closed\" or \"local\", got \"fail\""},
      {"failure_mode", 1, "failure_mode", "got 1"},
      {"enabled", "yes", "enabled",
       "enabled must be true or false, got \"yes\""},
      {"id", "7", "id", "id must be an integer, 0 or more, got \"7\""},
      {"id", -1, "id", "got -1"},
      {"version", 1.5, "version", "version must be an integer"},
      {"match", "client_id", "match",
       "match must be an object of key to value"},
      {"match", json::object({{"client_id", 42}}), "match.client_id",
       "match.client_id must be a string: the exact value, or \"*\" for any "
       "value, got 42"},
      {"match", json::object({{"client_id", ""}}), "match.client_id",
       "match.client_id must not be empty"},
      {"match", json::object({{"client_id", "a b"}}), "match.client_id",
       "contains \" \" at byte 1"},
      {"match", json::object({{"client_id", "a\nb"}}), "match.client_id",
       "contains \"\\x0a\" at byte 1"},
      {"match", json::object({{"client_id", std::string(257, 'v')}}),
       "match.client_id",
       "match.client_id is 257 bytes long; the most allowed is 256"},
      {"match", json::object({{"", "x"}}), "match", "match has an empty key"},
      {"match", json::object({{"a b", "x"}}), "match",
       "match key \"a b\" contains \" \" at byte 1"},
      {"match", json::object({{std::string(129, 'k'), "x"}}), "match",
       "is 129 bytes long; the most allowed is 128"},
  };
  for (const FieldCase& c : cases) {
    Status st = ErrorFor(With(c.field, c.value));
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(st.field(), c.error_field) << c.field << " = " << c.value;
    EXPECT_NE(st.message().find(c.expected_message), std::string::npos)
        << c.field << " = " << c.value << ": " << st.message();
  }
}

TEST(RuleJsonTest, AcceptsTheLimitsOfEachRange) {
  json j = ValidJson();
  j["limit"] = 1LL << 53;
  j["burst"] = 1;
  j["period"] = "365d";
  j["name"] = std::string(128, 'n');
  json match = json::object();
  for (int i = 0; i < 16; ++i) match["k" + std::to_string(i)] = "*";
  match["k0"] = std::string(256, 'v');
  match[std::string(128, 'k')] = "x";
  match.erase("k1");
  j["match"] = match;
  StatusOr<Rule> rule = RuleFromJson(j);
  ASSERT_TRUE(rule.ok()) << rule.status().ToString();
  EXPECT_EQ(rule->limit, 1LL << 53);
  EXPECT_EQ(rule->match.size(), 16u);
}

TEST(RuleJsonTest, RefusesTooManyMatchKeys) {
  json match = json::object();
  for (int i = 0; i < 17; ++i) match["k" + std::to_string(i)] = "*";
  Status st = ErrorFor(With("match", match));
  EXPECT_EQ(st.field(), "match");
  EXPECT_EQ(st.message(), "match has 17 keys; the most allowed is 16");
}

TEST(RuleJsonTest, AcceptsUnicodeMatchValues) {
  StatusOr<Rule> rule =
      RuleFromJson(With("match", json::object({{"city", "Zürich"}})));
  ASSERT_TRUE(rule.ok()) << rule.status().ToString();
  EXPECT_EQ(rule->match[0].second, "Zürich");
}

TEST(RuleJsonTest, MessagesAboutUnicodeInputStayValidUtf8) {
  // The REST API puts messages into JSON: they must never be cut inside a
  // character.
  Status st = ErrorFor(With("name", "café"));
  EXPECT_NE(st.message().find("contains \"é\" at byte 3"), std::string::npos)
      << st.message();
  std::string long_name;
  for (int i = 0; i < 100; ++i) long_name += "é";
  st = ErrorFor(With("name", long_name));
  EXPECT_EQ(st.message(), "name is 200 bytes long; the most allowed is 128");
  st = ErrorFor(With("mode", std::string(63, 'm') + "éé"));
  json body = {{"message", st.message()}};
  EXPECT_NO_THROW(body.dump()) << st.message();
}

TEST(RuleJsonTest, RoundTrips) {
  Rule rule = MakeRule(42, "api", {{"route", "/search"}, {"client_id", "*"}},
                       100, 1500, 250);
  rule.version = 9;
  rule.mode = RuleMode::kShadow;
  rule.failure_mode = FailureMode::kClosed;
  rule.enabled = false;
  json j = RuleToJson(rule);
  EXPECT_EQ(j["period"], "1500ms");
  EXPECT_EQ(j["match"]["client_id"], "*");
  StatusOr<Rule> back = RuleFromJson(j);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, rule);
  // Also through text.
  StatusOr<Rule> again = RuleFromJson(json::parse(j.dump()));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, rule);
}

TEST(RuleJsonTest, RoundTripsEveryMode) {
  for (RuleMode mode : {RuleMode::kEnforce, RuleMode::kShadow}) {
    for (FailureMode fm :
         {FailureMode::kOpen, FailureMode::kClosed, FailureMode::kLocal}) {
      Rule rule = MakeRule(1, "d", {});
      rule.mode = mode;
      rule.failure_mode = fm;
      StatusOr<Rule> back = RuleFromJson(RuleToJson(rule));
      ASSERT_TRUE(back.ok());
      EXPECT_EQ(*back, rule);
    }
  }
}

TEST(ValidateRuleTest, AcceptsAValidRule) {
  EXPECT_TRUE(ValidateRule(MakeRule(1, "api", {{"client_id", "*"}})).ok());
}

TEST(ValidateRuleTest, ReportsTheSameMessagesAsRuleFromJson) {
  Rule rule = MakeRule(1, "api", {});
  rule.limit = -5;
  Status st = ValidateRule(rule);
  EXPECT_EQ(st.field(), "limit");
  EXPECT_EQ(st.message(),
            "limit must be an integer from 1 to 9007199254740992, got -5");

  rule = MakeRule(1, "api", {});
  rule.burst = 0;
  EXPECT_EQ(ValidateRule(rule).field(), "burst");

  rule = MakeRule(1, "bad domain", {});
  EXPECT_EQ(ValidateRule(rule).field(), "domain");

  rule = MakeRule(1, "api", {});
  rule.name.clear();
  EXPECT_EQ(ValidateRule(rule).field(), "name");

  rule = MakeRule(1, "api", {{"k", ""}});
  EXPECT_EQ(ValidateRule(rule).field(), "match.k");

  rule = MakeRule(1, "api", {});
  rule.id = -1;
  EXPECT_EQ(ValidateRule(rule).field(), "id");
}

TEST(ValidateRuleTest, RefusesAPeriodOutOfRange) {
  Rule rule = MakeRule(1, "api", {});
  rule.period_ms = 0;
  Status st = ValidateRule(rule);
  EXPECT_EQ(st.field(), "period");
  EXPECT_EQ(st.message(), "period must be from 1ms to 365d, got 0ms");
  rule.period_ms = kMaxPeriodMillis + 1;
  EXPECT_EQ(ValidateRule(rule).field(), "period");
}

TEST(ValidateRuleTest, RefusesUnsortedOrRepeatedMatchKeys) {
  Rule rule = MakeRule(1, "api", {});
  rule.match = {{"route", "*"}, {"client_id", "*"}};
  Status st = ValidateRule(rule);
  EXPECT_EQ(st.field(), "match");
  EXPECT_NE(st.message().find("sorted and unique"), std::string::npos);
  rule.match = {{"a", "*"}, {"a", "x"}};
  EXPECT_EQ(ValidateRule(rule).field(), "match");
}

TEST(ValidateRuleTest, RefusesInvalidUtf8) {
  Rule rule = MakeRule(1, "api", {{"k", "\xff\xfe"}});
  Status st = ValidateRule(rule);
  EXPECT_EQ(st.field(), "match.k");
  EXPECT_NE(st.message().find("not valid UTF-8"), std::string::npos);
}

TEST(RuleTest, RatePerNanoAndExactCount) {
  Rule rule =
      MakeRule(1, "api", {{"a", "*"}, {"b", "x"}, {"c", "y"}}, 100, 1000);
  EXPECT_DOUBLE_EQ(rule.RatePerNano(), 100.0 / 1e9);
  EXPECT_EQ(rule.ExactCount(), 2);
}

TEST(RuleTest, ModeNamesParseBack) {
  RuleMode mode;
  EXPECT_TRUE(ParseRuleMode(RuleModeName(RuleMode::kShadow), &mode));
  EXPECT_EQ(mode, RuleMode::kShadow);
  EXPECT_FALSE(ParseRuleMode("Enforce", &mode));
  FailureMode fm;
  EXPECT_TRUE(ParseFailureMode(FailureModeName(FailureMode::kClosed), &fm));
  EXPECT_EQ(fm, FailureMode::kClosed);
  EXPECT_FALSE(ParseFailureMode("", &fm));
}

}  // namespace
}  // namespace sluice
