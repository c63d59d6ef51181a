// The envoyproxy/ratelimit converter's own cases (the README's examples
// are tests/controller/import/envoy_fixtures_test.cc).
#include "common/envoy_import.h"

#include <gtest/gtest.h>

#include "common/rule_json.h"

namespace sluice {
namespace {

using nlohmann::json;

EnvoyImport Convert(const char* config_json) {
  EnvoyImport import;
  ConvertEnvoyConfig(json::parse(config_json), "f.yaml", &import);
  return import;
}

TEST(EnvoyImportTest, NumbersAndBooleansMayBeTextAsYamlGivesThem) {
  EnvoyImport import = Convert(R"({"domain": "d", "descriptors": [
      {"key": "k", "value": "007", "shadow_mode": "true",
       "rate_limit": {"unit": "HOUR", "requests_per_unit": "42"}}]})");
  ASSERT_EQ(import.rules.size(), 1u);
  const json& rule = import.rules[0];
  EXPECT_EQ(rule["match"], json::parse(R"({"k": "007"})"));
  EXPECT_EQ(rule["limit"], 42);
  EXPECT_EQ(rule["burst"], 42);
  EXPECT_EQ(rule["period"], "1h");
  EXPECT_EQ(rule["mode"], "shadow");
  EXPECT_EQ(rule["name"], "d.k_007");
  EXPECT_TRUE(RuleJsonProblems(rule).empty());
  EXPECT_EQ(import.domains, std::set<std::string>{"d"});
}

TEST(EnvoyImportTest, LongerUnitsAreFixedPeriodsAndSaySo) {
  EnvoyImport import = Convert(R"({"domain": "d", "descriptors": [
      {"key": "a", "value": "1", "rate_limit": {"unit": "week", "requests_per_unit": 1}},
      {"key": "a", "value": "2", "rate_limit": {"unit": "month", "requests_per_unit": 1}},
      {"key": "a", "value": "3", "rate_limit": {"unit": "year", "requests_per_unit": 1}}]})");
  ASSERT_EQ(import.rules.size(), 3u);
  EXPECT_EQ(import.rules[0]["period"], "7d");
  EXPECT_EQ(import.rules[1]["period"], "30d");
  EXPECT_EQ(import.rules[2]["period"], "365d");
  EXPECT_EQ(import.notes.size(), 2u);  // month and year
}

TEST(EnvoyImportTest, NamesAreValidAndUnique) {
  EnvoyImport import;
  const char* config = R"({"domain": "d", "descriptors": [
      {"key": "k", "value": "a=b", "rate_limit": {"unit": "second", "requests_per_unit": 1}},
      {"key": "k", "value": "a?b", "rate_limit": {"unit": "second", "requests_per_unit": 1}}]})";
  ConvertEnvoyConfig(json::parse(config), "one.yaml", &import);
  std::string long_value(200, 'v');
  ConvertEnvoyConfig(
      json{
          {"domain", "d"},
          {"descriptors",
           {{{"key", "k"},
             {"value", long_value},
             {"rate_limit", {{"unit", "second"}, {"requests_per_unit", 1}}}}}}},
      "two.yaml", &import);
  // A value Sluice refuses (a space) is skipped, with the reason.
  ConvertEnvoyConfig(json::parse(R"({"domain": "d", "descriptors": [{"key": "k",
      "value": "a b", "rate_limit": {"unit": "second", "requests_per_unit": 1}}]})"),
                     "three.yaml", &import);
  ASSERT_EQ(import.skipped.size(), 1u);
  EXPECT_NE(import.skipped[0].message.find("not a valid Sluice rule"),
            std::string::npos);
  ASSERT_EQ(import.rules.size(), 3u) << json(import.skipped.size());
  EXPECT_EQ(import.rules[0]["name"], "d.k_a_b");
  EXPECT_EQ(import.rules[1]["name"], "d.k_a_b-2");
  EXPECT_EQ(import.rules[2]["name"].get<std::string>().size(), 128u);
  for (const json& rule : import.rules) {
    EXPECT_TRUE(RuleJsonProblems(rule).empty()) << rule.dump();
  }
}

TEST(EnvoyImportTest, WhatCannotBeConvertedIsListedNotDropped) {
  EnvoyImport import = Convert(R"({"domain": "d", "descriptors": [
      {"key": "a", "descriptors": [
          {"key": "a", "value": "x", "rate_limit": {"unit": "second", "requests_per_unit": 1}}]},
      {"key": "b", "rate_limit": {"unit": "fortnight", "requests_per_unit": 1}},
      {"key": "c", "rate_limit": {"unit": "second", "requests_per_unit": -3}},
      {"key": "e", "colour": "red", "rate_limit": {"unit": "second", "requests_per_unit": 1}}]})");
  ASSERT_EQ(import.skipped.size(), 3u);
  EXPECT_EQ(import.skipped[0].where, "f.yaml: descriptors[0].descriptors[0]");
  EXPECT_NE(import.skipped[0].message.find("twice"), std::string::npos);
  EXPECT_EQ(import.skipped[1].where, "f.yaml: descriptors[1].rate_limit.unit");
  EXPECT_EQ(import.skipped[2].where,
            "f.yaml: descriptors[2].rate_limit.requests_per_unit");
  ASSERT_EQ(import.rules.size(), 1u);
  EXPECT_EQ(import.rules[0]["match"], json::parse(R"({"e": "*"})"));
  bool unknown_noted = false;
  for (const auto& n : import.notes) {
    unknown_noted |= n.where == "f.yaml: descriptors[3].colour";
  }
  EXPECT_TRUE(unknown_noted);
}

TEST(EnvoyImportTest, NotAnEnvoyConfigurationIsAnError) {
  EXPECT_EQ(Convert(R"([1, 2])").errors.size(), 1u);
  EXPECT_EQ(Convert(R"({"descriptors": []})").errors[0].where,
            "f.yaml: domain");
  EXPECT_EQ(Convert(R"({"domain": "d", "descriptors": {"key": "a"}})")
                .errors[0]
                .message,
            "descriptors must be a list");
  EXPECT_EQ(Convert(R"({"domain": "d", "descriptors": [{"value": "v"}]})")
                .errors[0]
                .where,
            "f.yaml: descriptors[0].key");
  // A domain with no descriptors is still a domain the file speaks for.
  EnvoyImport empty = Convert(R"({"domain": "d"})");
  EXPECT_TRUE(empty.errors.empty());
  EXPECT_EQ(empty.domains.count("d"), 1u);
}

}  // namespace
}  // namespace sluice
