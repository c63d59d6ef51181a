// Config as code: GET/PUT /api/v1/config (docs/rules-as-code.md).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "tests/controller/api_fixture.h"

namespace sluice {
namespace {

using nlohmann::json;
using testing::HttpResult;
using testing::RuleNamed;

json Doc(std::initializer_list<json> rules) {
  json list = json::array();
  for (const json& rule : rules) list.push_back(rule);
  return json{{"rules", list}};
}

class ConfigApiTest : public testing::ApiTest {
 protected:
  // Sets up a = 1, b = 2, c = 3 through the rules API.
  void Seed() {
    Create(RuleNamed("a", 1));
    Create(RuleNamed("b", 2));
    Create(RuleNamed("c", 3));
  }
  // The desired set: b changed, c kept, a gone, d new.
  static json Desired() {
    return Doc({RuleNamed("b", 20), RuleNamed("c", 3), RuleNamed("d", 4)});
  }
  std::set<std::string> Names() {
    std::set<std::string> names;
    const json listed = admin_->Get("/api/v1/rules").json;
    for (const json& rule : listed["rules"]) {
      names.insert(rule["name"].get<std::string>());
    }
    return names;
  }
};

TEST_F(ConfigApiTest, ExportIsEveryRuleByNameWithoutServerFields) {
  Create(RuleNamed("zeta"));
  Create(RuleNamed("alpha"));
  HttpResult config = admin_->Get("/api/v1/config");
  ASSERT_EQ(config.status, 200) << config.body;
  ASSERT_EQ(config.json["rules"].size(), 2u);
  EXPECT_EQ(config.json["rules"][0]["name"], "alpha");
  EXPECT_EQ(config.json["rules"][1]["name"], "zeta");
  EXPECT_FALSE(config.json["rules"][0].contains("id"));
  EXPECT_FALSE(config.json["rules"][0].contains("version"));
  EXPECT_EQ(config.json["rules"][0], RuleNamed("alpha"));
  EXPECT_EQ(config.Header("ETag"),
            "\"" + Sql("SELECT revision FROM rules_state") + "\"");
  // Putting the export back changes nothing.
  HttpResult same = admin_->Put("/api/v1/config", config.body);
  ASSERT_EQ(same.status, 200) << same.body;
  EXPECT_TRUE(same.json["created"].empty());
  EXPECT_TRUE(same.json["updated"].empty());
  EXPECT_TRUE(same.json["deleted"].empty());
  EXPECT_EQ(same.json["unchanged"], json({"alpha", "zeta"}));
  EXPECT_EQ(same.Header("ETag"), config.Header("ETag"));
}

TEST_F(ConfigApiTest, DryRunReturnsTheDiffAndChangesNothing) {
  Seed();
  const std::string revision = Sql("SELECT revision FROM rules_state");
  const int64_t audit = Count("SELECT count(*) FROM audit_log");
  const int64_t versions = Count("SELECT count(*) FROM rule_versions");
  HttpResult dry = admin_->Put("/api/v1/config?dry_run=true", Desired().dump());
  ASSERT_EQ(dry.status, 200) << dry.body;
  EXPECT_EQ(dry.json["dry_run"], true);
  EXPECT_EQ(dry.json["created"], json({"d"}));
  EXPECT_EQ(dry.json["updated"], json({"b"}));
  EXPECT_EQ(dry.json["deleted"], json({"a"}));
  EXPECT_EQ(dry.json["unchanged"], json({"c"}));
  EXPECT_EQ(Names(), (std::set<std::string>{"a", "b", "c"}));
  EXPECT_EQ(Sql("SELECT revision FROM rules_state"), revision);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log"), audit);
  EXPECT_EQ(Count("SELECT count(*) FROM rule_versions"), versions);
  EXPECT_EQ(controller_->catalog()->Get().rules.size(), 3u);
}

TEST_F(ConfigApiTest, PutReplacesTheWholeSetInOneRevision) {
  Seed();
  const int64_t revision = std::stoll(Sql("SELECT revision FROM rules_state"));
  HttpResult put = admin_->Put("/api/v1/config", Desired().dump());
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.json["dry_run"], false);
  EXPECT_EQ(put.json["created"], json({"d"}));
  EXPECT_EQ(put.json["updated"], json({"b"}));
  EXPECT_EQ(put.json["deleted"], json({"a"}));
  EXPECT_EQ(put.json["revision"], revision + 1);
  EXPECT_EQ(Names(), (std::set<std::string>{"b", "c", "d"}));
  HttpResult config = admin_->Get("/api/v1/config");
  EXPECT_EQ(config.json, Desired());
  // The catalog (what agents get) follows at once, in one step.
  RuleCatalog::Snapshot snapshot = controller_->catalog()->Get();
  EXPECT_EQ(snapshot.version, revision + 1);
  ASSERT_EQ(snapshot.rules.size(), 3u);
  // b kept its id and went to version 2; c was untouched.
  const json listed = admin_->Get("/api/v1/rules").json;
  for (const json& rule : listed["rules"]) {
    if (rule["name"] == "b") {
      EXPECT_EQ(rule["version"], 2);
      EXPECT_EQ(rule["limit"], 20);
    }
    if (rule["name"] == "c") {
      EXPECT_EQ(rule["version"], 1);
    }
  }
  // One audit row per rule changed, by the token's name.
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE action LIKE 'rule.%' "
                  "AND actor = 'SLUICE_ADMIN_TOKEN'"),
            3 + 3);
}

TEST_F(ConfigApiTest, AnInvalidDocumentIsRefusedWholeWithEveryProblem) {
  Seed();
  const std::string revision = Sql("SELECT revision FROM rules_state");
  json bad_limit = RuleNamed("x", 0);
  json bad_many = RuleNamed("y");
  bad_many["period"] = "2y";
  bad_many["colour"] = "blue";
  bad_many["burst"] = int64_t{9007199254740993};  // 2^53 + 1
  json doc = Doc({RuleNamed("fine"), bad_limit, bad_many, RuleNamed("fine"),
                  json("not a rule")});
  doc["comment"] = "x";
  HttpResult refused = admin_->Put("/api/v1/config", doc.dump());
  ASSERT_EQ(refused.status, 422) << refused.body;
  EXPECT_EQ(refused.ErrorCode(), "invalid_argument");
  std::set<std::string> fields;
  for (const json& error : refused.json["error"]["errors"]) {
    fields.insert(error["field"].get<std::string>());
    EXPECT_FALSE(error["message"].get<std::string>().empty());
  }
  EXPECT_EQ(fields, (std::set<std::string>{"comment", "rules[1].limit",
                                           "rules[1].burst", "rules[2].colour",
                                           "rules[2].period", "rules[2].burst",
                                           "rules[3].name", "rules[4]"}))
      << refused.body;
  // Nothing changed, not even the valid parts.
  EXPECT_EQ(Names(), (std::set<std::string>{"a", "b", "c"}));
  EXPECT_EQ(Sql("SELECT revision FROM rules_state"), revision);

  for (const char* body : {"[]", "{}", R"({"rules": {}})"}) {
    HttpResult shape = admin_->Put("/api/v1/config", body);
    EXPECT_EQ(shape.status, 422) << body;
    EXPECT_FALSE(shape.json["error"]["errors"].empty()) << shape.body;
  }
  EXPECT_EQ(admin_->Put("/api/v1/config", "{\"rules\": [").status, 400);
  EXPECT_EQ(
      admin_->Put("/api/v1/config?dry_run=maybe", Desired().dump()).status,
      400);
  EXPECT_EQ(admin_->Put("/api/v1/config?force=1", Desired().dump()).status,
            400);
}

TEST_F(ConfigApiTest, IfMatchOnTheConfigIsTheRevision) {
  Seed();
  HttpResult config = admin_->Get("/api/v1/config");
  const std::string etag = config.Header("ETag");
  Create(RuleNamed("sneaked-in"));
  HttpResult stale = admin_->Send(web::http::methods::PUT, "/api/v1/config",
                                  Desired().dump(), true, {{"If-Match", etag}});
  EXPECT_EQ(stale.status, 412) << stale.body;
  EXPECT_EQ(Names(), (std::set<std::string>{"a", "b", "c", "sneaked-in"}));
  HttpResult fresh = admin_->Send(
      web::http::methods::PUT, "/api/v1/config", Desired().dump(), true,
      {{"If-Match", admin_->Get("/api/v1/config").Header("ETag")}});
  EXPECT_EQ(fresh.status, 200) << fresh.body;
  EXPECT_EQ(fresh.json["deleted"], json({"a", "sneaked-in"}));
}

TEST_F(ConfigApiTest, AnEmptyDocumentDeletesEverything) {
  Seed();
  HttpResult put = admin_->Put("/api/v1/config", R"({"rules": []})");
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.json["deleted"], json({"a", "b", "c"}));
  EXPECT_TRUE(Names().empty());
  EXPECT_TRUE(controller_->catalog()->Get().rules.empty());
}

}  // namespace
}  // namespace sluice
