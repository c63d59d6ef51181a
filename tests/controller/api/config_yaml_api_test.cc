// The config document in YAML over REST: GET with Accept, PUT with
// Content-Type, malformed YAML named by line and column
// (docs/rules-as-code.md).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/controller/api_fixture.h"

namespace sluice {
namespace {

using nlohmann::json;
using testing::HttpResult;
using testing::RuleNamed;

constexpr char kYaml[] = "application/yaml";

class ConfigYamlApiTest : public testing::ApiTest {
 protected:
  HttpResult GetAs(const std::string& accept) {
    return admin_->Send(web::http::methods::GET, "/api/v1/config", "", true,
                        {{"Accept", accept}});
  }
  HttpResult PutYaml(const std::string& path, const std::string& body,
                     const std::string& type = kYaml) {
    return admin_->Send(web::http::methods::PUT, path, body, true, {}, type);
  }
};

TEST_F(ConfigYamlApiTest, AcceptChoosesYamlOrJson) {
  Create(RuleNamed("alpha"));
  HttpResult yaml = GetAs(kYaml);
  ASSERT_EQ(yaml.status, 200) << yaml.body;
  EXPECT_EQ(yaml.Header("Content-Type"), kYaml);
  EXPECT_EQ(yaml.Header("Vary"), "Accept");
  EXPECT_TRUE(yaml.json.is_null()) << "not JSON: " << yaml.body;
  EXPECT_NE(yaml.body.find("rules:\n  - name: alpha\n"), std::string::npos)
      << yaml.body;
  EXPECT_NE(yaml.body.find("name: alpha\n"), std::string::npos) << yaml.body;
  EXPECT_NE(yaml.body.find("limit: 100\n"), std::string::npos) << yaml.body;
  HttpResult json_config = admin_->Get("/api/v1/config");
  EXPECT_EQ(yaml.Header("ETag"), json_config.Header("ETag"));
  EXPECT_EQ(GetAs("text/yaml").Header("Content-Type"), kYaml);
  for (const char* accept :
       {"application/json", "*/*", "application/json, application/yaml",
        "application/yaml;q=0.5, application/json"}) {
    HttpResult as_json = GetAs(accept);
    EXPECT_EQ(as_json.json, json_config.json) << accept;
  }
  EXPECT_EQ(
      GetAs("application/json;q=0.5, application/yaml").Header("Content-Type"),
      kYaml);
}

TEST_F(ConfigYamlApiTest, ADownloadPutBackChangesNothing) {
  // Strings that would read back as other types unless quoted.
  json tricky = RuleNamed("007");
  tricky["match"] = {{"client_id", "*"}, {"tier", "true"}, {"n", "42"},
                     {"none", "~"},      {"flow", "{x}"},  {"hash", "#x"},
                     {"dash", "-x"}};
  Create(tricky);
  Create(RuleNamed("null"));
  Create(RuleNamed("plain"));
  HttpResult yaml = GetAs(kYaml);
  ASSERT_EQ(yaml.status, 200);
  HttpResult same = PutYaml("/api/v1/config?dry_run=true", yaml.body);
  ASSERT_EQ(same.status, 200) << same.body << "\n" << yaml.body;
  EXPECT_TRUE(same.json["created"].empty()) << same.body;
  EXPECT_TRUE(same.json["updated"].empty()) << same.body << "\n" << yaml.body;
  EXPECT_TRUE(same.json["deleted"].empty()) << same.body;
  EXPECT_EQ(same.json["unchanged"], json({"007", "null", "plain"}));
}

TEST_F(ConfigYamlApiTest, AYamlDocumentIsDryRunThenApplied) {
  Create(RuleNamed("a", 1));
  Create(RuleNamed("b", 2));
  const std::string doc =
      "# the rule set, kept in git\n"
      "rules:\n"
      "  - name: a\n"
      "    domain: api\n"
      "    match: {route: /search, client_id: '*'}\n"
      "    limit: 10\n"
      "    burst: 10\n"
      "    period: 1s\n"
      "  - name: c\n"
      "    domain: login\n"
      "    match:\n"
      "      user: \"*\"\n"
      "    limit: 3\n"
      "    period: 1m\n"
      "    mode: shadow\n"
      "    enabled: false\n";
  HttpResult dry = PutYaml("/api/v1/config?dry_run=true", doc);
  ASSERT_EQ(dry.status, 200) << dry.body;
  EXPECT_EQ(dry.json["created"], json({"c"}));
  EXPECT_EQ(dry.json["updated"], json({"a"}));
  EXPECT_EQ(dry.json["deleted"], json({"b"}));
  EXPECT_EQ(admin_->Get("/api/v1/rules").json["rules"].size(), 2u);
  HttpResult put = PutYaml("/api/v1/config", doc, "text/yaml; charset=utf-8");
  ASSERT_EQ(put.status, 200) << put.body;
  json config = admin_->Get("/api/v1/config").json;
  ASSERT_EQ(config["rules"].size(), 2u);
  EXPECT_EQ(config["rules"][0]["limit"], 10);
  EXPECT_EQ(config["rules"][1]["name"], "c");
  EXPECT_EQ(config["rules"][1]["enabled"], false);
  EXPECT_EQ(config["rules"][1]["mode"], "shadow");
}

TEST_F(ConfigYamlApiTest, MalformedYamlIsA400WithLineAndColumn) {
  Create(RuleNamed("keep"));
  const std::string revision = Sql("SELECT revision FROM rules_state");
  // An unclosed flow map on line 3.
  HttpResult bad = PutYaml("/api/v1/config?dry_run=true",
                           "rules:\n  - name: x\n    match: {route: /a\n"
                           "    limit: 5\n");
  ASSERT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(bad.ErrorCode(), "invalid_yaml");
  EXPECT_GE(bad.json["error"]["line"].get<int>(), 3) << bad.body;
  EXPECT_GE(bad.json["error"]["column"].get<int>(), 1) << bad.body;
  const std::string message = bad.ErrorPart("message");
  EXPECT_NE(message.find("line "), std::string::npos) << message;
  EXPECT_NE(message.find("expected"), std::string::npos) << message;

  HttpResult indent = PutYaml("/api/v1/config",
                              "rules:\n  - name: x\n    limit: 5\n"
                              "   period: 1s\n");
  ASSERT_EQ(indent.status, 400) << indent.body;
  EXPECT_EQ(indent.json["error"]["line"], 4) << indent.body;
  EXPECT_NE(indent.ErrorPart("message").find("line 4, column"),
            std::string::npos)
      << indent.body;

  HttpResult twice =
      PutYaml("/api/v1/config", "rules:\n  - name: x\n    name: y\n");
  ASSERT_EQ(twice.status, 400) << twice.body;
  EXPECT_EQ(twice.json["error"]["line"], 3) << twice.body;
  EXPECT_NE(twice.ErrorPart("message").find("appears twice"),
            std::string::npos);

  // Valid YAML that is not a valid config: the usual 422, every problem.
  HttpResult invalid = PutYaml("/api/v1/config",
                               "rules:\n  - name: x\n    domain: api\n"
                               "    limit: 0\n    period: 1s\n");
  ASSERT_EQ(invalid.status, 422) << invalid.body;
  EXPECT_EQ(invalid.ErrorField(), "rules[0].limit");
  // A YAML body sent as JSON is invalid JSON, as before.
  EXPECT_EQ(admin_->Put("/api/v1/config", "rules: []\n").ErrorCode(),
            "invalid_json");
  EXPECT_EQ(Sql("SELECT revision FROM rules_state"), revision);
}

}  // namespace
}  // namespace sluice
