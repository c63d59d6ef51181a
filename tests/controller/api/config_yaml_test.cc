// controller/api/config_yaml.h: typed YAML scalars, a writer whose output
// reads back the same, problems with line and column, and the media types.
#include "controller/api/config_yaml.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace sluice {
namespace {

using nlohmann::json;

json Parse(const std::string& text) {
  json out;
  YamlProblem problem;
  EXPECT_TRUE(ParseConfigYaml(text, &out, &problem))
      << problem.line << ":" << problem.column << " " << problem.message;
  return out;
}

YamlProblem Problem(const std::string& text) {
  json out;
  YamlProblem problem;
  EXPECT_FALSE(ParseConfigYaml(text, &out, &problem)) << out.dump();
  return problem;
}

TEST(ConfigYamlTest, PlainScalarsAreTypedAndQuotedOnesAreText) {
  json doc = Parse(
      "a: 100\nb: -7\nc: 1.5\nd: true\ne: False\nf: null\ng: ~\nh:\n"
      "i: '100'\nj: \"true\"\nk: 1s\nl: \"*\"\nm: 0x10\nn: !!str 5\n"
      "o: 99999999999999999999\n");
  EXPECT_EQ(doc, json({{"a", 100},
                       {"b", -7},
                       {"c", 1.5},
                       {"d", true},
                       {"e", false},
                       {"f", nullptr},
                       {"g", nullptr},
                       {"h", nullptr},
                       {"i", "100"},
                       {"j", "true"},
                       {"k", "1s"},
                       {"l", "*"},
                       {"m", "0x10"},
                       {"n", "5"},
                       {"o", "99999999999999999999"}}));
}

TEST(ConfigYamlTest, WhatIsWrittenReadsBackTheSame) {
  json doc = {{"rules",
               {{{"name", "007"},
                 {"limit", 100},
                 {"enabled", false},
                 {"match",
                  {{"client_id", "*"},
                   {"a", "true"},
                   {"b", "null"},
                   {"c", ""},
                   {"d", "a: b"},
                   {"e", "#x"},
                   {"f", "1.5"},
                   {"g", " padded "},
                   {"h", "line\nbreak"},
                   {"i", "- x"}}}},
                {{"name", "empty"}, {"match", json::object()}}}}};
  const std::string yaml = ConfigYaml(doc);
  EXPECT_EQ(yaml.rfind("rules:\n  - name: \"007\"\n", 0), 0u) << yaml;
  EXPECT_EQ(Parse(yaml), doc) << yaml;
  EXPECT_EQ(Parse(ConfigYaml(json{{"rules", json::array()}})),
            json({{"rules", json::array()}}));
}

TEST(ConfigYamlTest, ProblemsSayWhereAndWhatWasExpected) {
  YamlProblem flow = Problem("rules:\n  - match: {route: /a\n    limit: 5\n");
  EXPECT_EQ(flow.line, 3);
  EXPECT_NE(flow.message.find("expected ',' or '}'"), std::string::npos)
      << flow.message;
  YamlProblem indent = Problem("rules:\n  - name: x\n    limit: 5\n   b: 1\n");
  EXPECT_EQ(indent.line, 4);
  EXPECT_NE(indent.message.find("expected"), std::string::npos);
  YamlProblem twice = Problem("a: 1\nb: 2\na: 3\n");
  EXPECT_EQ(twice.line, 3);
  EXPECT_EQ(twice.column, 1);
  // An alias bomb is refused, not expanded without bound.
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'j'; ++c) {
    bomb += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i)
      bomb += std::string(i ? ", *" : "*") + (char)(c - 1);
    bomb += "]\n";
  }
  EXPECT_NE(Problem(bomb).message.find("too large"), std::string::npos);
}

TEST(ConfigYamlTest, AcceptAndContentType) {
  for (const char* yes :
       {"application/yaml", "text/yaml", "application/x-yaml",
        "Application/YAML; charset=utf-8", "application/yaml, application/json",
        "application/json;q=0.5, application/yaml"}) {
    EXPECT_TRUE(AcceptsYamlFirst(yes)) << yes;
  }
  for (const char* no :
       {"", "*/*", "application/json", "application/json, application/yaml",
        "application/yaml;q=0.5, application/json", "application/yaml;q=0",
        "text/html"}) {
    EXPECT_FALSE(AcceptsYamlFirst(no)) << no;
  }
  EXPECT_TRUE(IsYamlContentType("application/yaml"));
  EXPECT_TRUE(IsYamlContentType("text/yaml; charset=utf-8"));
  EXPECT_FALSE(IsYamlContentType("application/json"));
  EXPECT_FALSE(IsYamlContentType(""));
}

}  // namespace
}  // namespace sluice
