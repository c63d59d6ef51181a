// The audit log: a row per change with actor, before and after, written in
// the change's transaction; immutable in the database; paged by the API.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "tests/controller/api_fixture.h"

namespace sluice {
namespace {

using nlohmann::json;
using testing::HttpResult;
using testing::RuleNamed;

class AuditTest : public testing::ApiTest {
 protected:
  // Every entry after the bootstrap's, through the API.
  std::vector<json> Entries(const std::string& query = "") {
    HttpResult page = admin_->Get("/api/v1/audit" + query);
    EXPECT_EQ(page.status, 200) << page.body;
    std::vector<json> entries;
    for (const json& entry : page.json["entries"]) entries.push_back(entry);
    return entries;
  }
};

TEST_F(AuditTest, EveryChangeIsRecordedWithActorBeforeAndAfter) {
  // The controller's own bootstrap of the admin token comes first.
  std::vector<json> start = Entries();
  ASSERT_EQ(start.size(), 1u);
  EXPECT_EQ(start[0]["action"], "token.create");
  EXPECT_EQ(start[0]["actor"], "controller");
  EXPECT_TRUE(start[0]["actor_token_id"].is_null());

  const std::string editor = NewToken("alice", "editor");
  auto alice = Client(editor);
  HttpResult created = alice->Post("/api/v1/rules", RuleNamed("r").dump());
  ASSERT_EQ(created.status, 201);
  const std::string path = "/api/v1/rules/" + created.json["id"].dump();
  HttpResult updated = alice->Put(path, RuleNamed("r", 5).dump());
  ASSERT_EQ(updated.status, 200);
  ASSERT_EQ(alice->Delete(path).status, 204);
  // A refused change leaves no trace.
  ASSERT_EQ(alice->Post("/api/v1/rules", RuleNamed("bad", 0).dump()).status,
            422);

  std::vector<json> entries = Entries("?since=" + start[0]["id"].dump());
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0]["action"], "token.create");
  EXPECT_EQ(entries[0]["actor"], "SLUICE_ADMIN_TOKEN");
  EXPECT_EQ(entries[0]["target"]["kind"], "token");
  EXPECT_EQ(entries[0]["target"]["name"], "alice");
  EXPECT_TRUE(entries[0]["before"].is_null());
  EXPECT_EQ(entries[0]["after"]["role"], "editor");
  EXPECT_EQ(entries[0].dump().find(editor), std::string::npos);

  const json& create = entries[1];
  EXPECT_EQ(create["action"], "rule.create");
  EXPECT_EQ(create["actor"], "alice");
  EXPECT_FALSE(create["actor_token_id"].is_null());
  EXPECT_EQ(create["target"]["kind"], "rule");
  EXPECT_EQ(create["target"]["id"], created.json["id"]);
  EXPECT_EQ(create["target"]["name"], "r");
  EXPECT_TRUE(create["before"].is_null());
  EXPECT_EQ(create["after"], created.json);

  const json& update = entries[2];
  EXPECT_EQ(update["action"], "rule.update");
  EXPECT_EQ(update["before"], created.json);
  EXPECT_EQ(update["after"], updated.json);

  const json& remove = entries[3];
  EXPECT_EQ(remove["action"], "rule.delete");
  EXPECT_EQ(remove["before"], updated.json);
  EXPECT_TRUE(remove["after"].is_null());

  for (size_t i = 1; i < entries.size(); ++i) {
    EXPECT_GT(entries[i]["id"], entries[i - 1]["id"]);
    EXPECT_GE(entries[i]["at"], entries[i - 1]["at"]);
  }

  // Revoking is audited too.
  HttpResult tokens = admin_->Get("/api/v1/tokens");
  const json alice_token = tokens.json["tokens"].back();
  ASSERT_EQ(admin_->Delete("/api/v1/tokens/" + alice_token["id"].dump()).status,
            204);
  std::vector<json> last = Entries("?since=" + remove["id"].dump());
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0]["action"], "token.revoke");
  EXPECT_TRUE(last[0]["before"]["revoked_at"].is_null());
  EXPECT_FALSE(last[0]["after"]["revoked_at"].is_null());
}

TEST_F(AuditTest, TheDatabaseRefusesUpdateAndDelete) {
  Create(RuleNamed("r"));
  const int64_t rows = Count("SELECT count(*) FROM audit_log");
  ASSERT_GE(rows, 2);
  for (const char* sql :
       {"UPDATE audit_log SET actor = 'mallory'",
        "UPDATE audit_log SET after = NULL WHERE action = 'rule.create'",
        "DELETE FROM audit_log", "DELETE FROM audit_log WHERE id < 0",
        "TRUNCATE audit_log"}) {
    try {
      Sql(sql);
      ADD_FAILURE() << sql << " was allowed";
    } catch (const pqxx::sql_error& e) {
      EXPECT_NE(std::string(e.what()).find("append-only"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log"), rows);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE actor = 'mallory'"), 0);
}

TEST_F(AuditTest, PagesThroughWithANextCursor) {
  for (int i = 0; i < 7; ++i) Create(RuleNamed("r" + std::to_string(i)));
  // 1 bootstrap + 7 creations = 8 entries, in pages of 3.
  std::vector<int64_t> seen;
  std::string since;
  int pages = 0;
  for (;;) {
    HttpResult page = admin_->Get("/api/v1/audit?limit=3" +
                                  (since.empty() ? "" : "&since=" + since));
    ASSERT_EQ(page.status, 200) << page.body;
    ++pages;
    for (const json& entry : page.json["entries"]) {
      seen.push_back(entry["id"].get<int64_t>());
    }
    if (page.json["next"].is_null()) break;
    since = page.json["next"].get<std::string>();
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 8u);
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_GT(seen[i], seen[i - 1]);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log"), 8);
}

TEST_F(AuditTest, SinceATime) {
  Create(RuleNamed("before"));
  const std::string cut =
      Sql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', "
          "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')");
  Create(RuleNamed("after"));
  std::vector<json> entries = Entries("?since=" + cut);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]["target"]["name"], "after");
  // An offset works too (%2B is '+').
  EXPECT_EQ(Entries("?since=2000-01-01T02:00:00%2B02:00").size(), 3u);
  EXPECT_TRUE(Entries("?since=2999-01-01T00:00:00Z").empty());
}

TEST_F(AuditTest, BadQueriesAre400) {
  for (const char* query :
       {"?limit=0", "?limit=1001", "?limit=x", "?since=yesterday",
        "?since=2026-13-01T00:00:00Z", "?since=1&since=2", "?page=2"}) {
    HttpResult bad = admin_->Get(std::string("/api/v1/audit") + query);
    EXPECT_EQ(bad.status, 400) << query << ": " << bad.body;
    EXPECT_EQ(bad.ErrorCode(), "invalid_query") << query;
  }
}

}  // namespace
}  // namespace sluice
