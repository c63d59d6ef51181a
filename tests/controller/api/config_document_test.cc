// The config document: parsing with every problem listed, and the export
// form (pure).
#include "controller/api/config_document.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "common/rule_json.h"
#include "tests/controller/db_fixture.h"

namespace sluice {
namespace {

using nlohmann::json;

json RuleJson(const std::string& name) {
  json rule = RuleToJson(testing::ValidRule(name));
  rule.erase("id");
  rule.erase("version");
  return rule;
}

std::map<std::string, std::string> ByField(
    const std::vector<ConfigProblem>& problems) {
  std::map<std::string, std::string> out;
  for (const ConfigProblem& p : problems) out[p.field] = p.message;
  return out;
}

TEST(ConfigDocumentTest, ParsesRulesInOrder) {
  json doc = {{"rules", {RuleJson("b"), RuleJson("a")}}};
  doc["rules"][0]["id"] = 7;  // accepted, ignored by the store
  std::vector<Rule> rules;
  EXPECT_TRUE(ParseConfigDocument(doc, &rules).empty());
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].name, "b");
  EXPECT_EQ(rules[1].name, "a");
}

TEST(ConfigDocumentTest, ListsEveryProblemWithItsPath) {
  json many = RuleJson("m");
  many["limit"] = -1;
  many["period"] = "1y1";
  many["mode"] = "block";
  many["extra"] = true;
  many["match"] = {{"client_id", ""}};
  json doc = {{"rules", {RuleJson("ok"), many, 5, RuleJson("ok")}},
              {"version", 2}};
  std::vector<Rule> rules;
  auto problems = ByField(ParseConfigDocument(doc, &rules));
  EXPECT_TRUE(rules.empty());
  for (const char* field :
       {"version", "rules[1].limit", "rules[1].period", "rules[1].mode",
        "rules[1].extra", "rules[1].match.client_id", "rules[2]",
        "rules[3].name"}) {
    EXPECT_EQ(problems.count(field), 1u) << field;
  }
  EXPECT_EQ(problems.size(), 8u);
  EXPECT_NE(problems["rules[3].name"].find("rules[0]"), std::string::npos);
}

TEST(ConfigDocumentTest, RefusesWrongShapes) {
  std::vector<Rule> rules;
  EXPECT_EQ(ParseConfigDocument(json::array(), &rules).size(), 1u);
  EXPECT_EQ(ParseConfigDocument(json::object(), &rules)[0].field, "rules");
  EXPECT_EQ(ParseConfigDocument(json{{"rules", "x"}}, &rules)[0].field,
            "rules");
  json huge = {{"rules", json::array()}};
  for (size_t i = 0; i <= kMaxConfigRules; ++i) huge["rules"].push_back(1);
  auto problems = ParseConfigDocument(huge, &rules);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].message.find("most allowed"), std::string::npos);
}

TEST(ConfigDocumentTest, ExportIsSortedByNameAndRoundTrips) {
  Rule b = testing::ValidRule("b");
  b.id = 1;
  b.version = 4;
  Rule a = testing::ValidRule("a");
  a.id = 2;
  json doc = ConfigDocumentJson({b, a});
  ASSERT_EQ(doc["rules"].size(), 2u);
  EXPECT_EQ(doc["rules"][0], RuleJson("a"));
  EXPECT_EQ(doc["rules"][1], RuleJson("b"));
  std::vector<Rule> back;
  ASSERT_TRUE(ParseConfigDocument(doc, &back).empty());
  EXPECT_EQ(back[0], testing::ValidRule("a"));
}

}  // namespace
}  // namespace sluice
