// Rules as versioned configuration: ETag and If-Match, and the history of
// every version (docs/api.md).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <string>

#include "tests/controller/api_fixture.h"

namespace sluice {
namespace {

using nlohmann::json;
using testing::HttpResult;
using testing::RuleNamed;

class RuleVersionsTest : public testing::ApiTest {
 protected:
  std::string Revision() { return Sql("SELECT revision FROM rules_state"); }
};

TEST_F(RuleVersionsTest, GetReturnsAnETagThatChangesWithEveryVersion) {
  json created = Create(RuleNamed("search"));
  const std::string path = "/api/v1/rules/" + created["id"].dump();
  HttpResult first = admin_->Get(path);
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.Header("ETag"), "\"1\"");
  HttpResult updated =
      admin_->PutIf(path, RuleNamed("search", 5).dump(), first.Header("ETag"));
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(updated.json["version"], 2);
  EXPECT_EQ(updated.Header("ETag"), "\"2\"");
  EXPECT_EQ(admin_->Get(path).Header("ETag"), "\"2\"");
}

TEST_F(RuleVersionsTest, StaleIfMatchIs412AndChangesNothing) {
  json created = Create(RuleNamed("search"));
  const std::string path = "/api/v1/rules/" + created["id"].dump();
  const std::string stale = admin_->Get(path).Header("ETag");
  ASSERT_EQ(admin_->Put(path, RuleNamed("search", 5).dump()).status, 200);
  const std::string revision = Revision();
  const int64_t audit_rows = Count("SELECT count(*) FROM audit_log");

  HttpResult put = admin_->PutIf(path, RuleNamed("search", 9).dump(), stale);
  EXPECT_EQ(put.status, 412) << put.body;
  EXPECT_EQ(put.ErrorCode(), "precondition_failed");
  EXPECT_NE(put.ErrorPart("message").find("now at version 2"),
            std::string::npos)
      << put.body;
  HttpResult del = admin_->DeleteIf(path, stale);
  EXPECT_EQ(del.status, 412) << del.body;

  // Nothing changed: the rule, its version, the revision, the history, the
  // audit log, the catalog.
  HttpResult now = admin_->Get(path);
  EXPECT_EQ(now.json["limit"], 5);
  EXPECT_EQ(now.json["version"], 2);
  EXPECT_EQ(Revision(), revision);
  EXPECT_EQ(Count("SELECT count(*) FROM rule_versions"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log"), audit_rows);
  ASSERT_EQ(controller_->catalog()->Get().rules.size(), 1u);
  EXPECT_EQ(controller_->catalog()->Get().rules[0].limit, 5);

  // The current ETag (and *, and a list holding it) passes.
  EXPECT_EQ(admin_->PutIf(path, RuleNamed("search", 6).dump(), "\"7\", W/\"2\"")
                .status,
            200);
  EXPECT_EQ(admin_->PutIf(path, RuleNamed("search", 7).dump(), "*").status,
            200);
  EXPECT_EQ(admin_->DeleteIf(path, "\"4\"").status, 204);
}

TEST_F(RuleVersionsTest, MalformedIfMatchIs400) {
  json created = Create(RuleNamed("search"));
  const std::string path = "/api/v1/rules/" + created["id"].dump();
  HttpResult bad = admin_->PutIf(path, RuleNamed("search", 5).dump(), "1");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(bad.ErrorField(), "If-Match");
  EXPECT_EQ(admin_->Get(path).json["version"], 1);
}

TEST_F(RuleVersionsTest, HistoryListsEveryVersionAndOutlivesTheRule) {
  json created = Create(RuleNamed("search"));
  const std::string id = created["id"].dump();
  ASSERT_EQ(
      admin_->Put("/api/v1/rules/" + id, RuleNamed("search", 5).dump()).status,
      200);
  json renamed = RuleNamed("search-renamed", 5);
  renamed["mode"] = "shadow";
  ASSERT_EQ(admin_->Put("/api/v1/rules/" + id, renamed.dump()).status, 200);
  ASSERT_EQ(admin_->Delete("/api/v1/rules/" + id).status, 204);

  HttpResult history = admin_->Get("/api/v1/rules/" + id + "/history");
  ASSERT_EQ(history.status, 200) << history.body;
  EXPECT_EQ(history.json["rule_id"].dump(), id);
  const json& versions = history.json["versions"];
  ASSERT_EQ(versions.size(), 4u) << history.body;
  const char* actions[] = {"create", "update", "update", "delete"};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(versions[i]["version"], i + 1);
    EXPECT_EQ(versions[i]["action"], actions[i]);
    EXPECT_EQ(versions[i]["actor"], "SLUICE_ADMIN_TOKEN");
    EXPECT_EQ(versions[i]["rule"]["version"], i + 1);
    EXPECT_EQ(versions[i]["at"].get<std::string>().size(), 27u)
        << versions[i]["at"];
  }
  EXPECT_EQ(versions[0]["rule"]["limit"], 100);
  EXPECT_EQ(versions[1]["rule"]["limit"], 5);
  EXPECT_EQ(versions[2]["rule"]["name"], "search-renamed");
  EXPECT_EQ(versions[2]["rule"]["mode"], "shadow");
  EXPECT_EQ(versions[3]["rule"]["name"], "search-renamed");

  EXPECT_EQ(admin_->Get("/api/v1/rules/987654/history").status, 404);
}

TEST_F(RuleVersionsTest, TheHistoryTableIsAppendOnly) {
  Create(RuleNamed("search"));
  for (const char* sql :
       {"UPDATE rule_versions SET actor = 'someone-else'",
        "DELETE FROM rule_versions", "TRUNCATE rule_versions"}) {
    EXPECT_THROW(Sql(sql), pqxx::sql_error) << sql;
  }
  EXPECT_EQ(Sql("SELECT actor FROM rule_versions"), "SLUICE_ADMIN_TOKEN");
}

}  // namespace
}  // namespace sluice
