// The REST admin API end to end: a Controller in-process on a fresh
// database and free ports, driven by a real HTTP client.
#include "controller/api/rest_api.h"

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "controller/controller.h"
#include "tests/controller/api_fixture.h"
#include "tests/controller/http_test_client.h"
#include "tests/support/free_port.h"
#include "tests/support/test_database.h"

namespace sluice {
namespace {

using nlohmann::json;
using testing::HttpResult;
using testing::HttpTestClient;
using testing::PickFreePort;
using web::http::methods;

class RestApiTest : public testing::ApiTest {
 protected:
  static json Named(const std::string& name) {
    json rule = testing::SampleRule();
    rule["name"] = name;
    return rule;
  }
  // Runs `sql` in the test database, or on the server when `on_server`.
  void ExecSql(const std::string& sql, bool on_server = false) {
    pqxx::connection conn(on_server ? testing::TestDatabase::ServerConninfo()
                                    : test_db_->conninfo());
    pqxx::nontransaction tx(conn);
    tx.exec(sql);
  }
};

TEST_F(RestApiTest, HealthAndReadinessNeedNoToken) {
  HttpResult health = admin_->Send(methods::GET, "/healthz", "", false);
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.json["status"], "ok");
  HttpResult ready = admin_->Send(methods::GET, "/readyz", "", false);
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(ready.json["checks"]["database"], "ok");
  EXPECT_EQ(ready.json["checks"]["lease_server"], "ok");
}

TEST_F(RestApiTest, RootIsTheDashboardWithItsSecurityHeaders) {
  HttpResult page = admin_->Send(methods::GET, "/", "", false);
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.Header("Content-Type").find("text/html"), std::string::npos);
  EXPECT_NE(page.body.find("/js/app.js"), std::string::npos);
  EXPECT_NE(page.Header("Content-Security-Policy").find("script-src 'self'"),
            std::string::npos);
  HttpResult script = admin_->Send(methods::GET, "/js/app.js", "", false);
  EXPECT_EQ(script.status, 200);
  EXPECT_EQ(script.Header("Content-Type"), "text/javascript; charset=utf-8");
  HttpResult again = admin_->Send(methods::GET, "/js/app.js", "", false,
                                  {{"If-None-Match", script.Header("ETag")}});
  EXPECT_EQ(again.status, 304);
}

TEST_F(RestApiTest, ApiNeedsAKnownBearerToken) {
  for (const char* path : {"/api/v1/rules", "/api/v1/rules/1", "/api/v1/x"}) {
    HttpResult missing = admin_->Send(methods::GET, path, "", false);
    EXPECT_EQ(missing.status, 401) << path;
    EXPECT_EQ(missing.ErrorCode(), "unauthorized");
    EXPECT_NE(missing.ErrorPart("message").find("Authorization"),
              std::string::npos);
    EXPECT_NE(missing.Header("WWW-Authenticate").find("Bearer"),
              std::string::npos);
  }
  admin_->set_token("not-the-token");
  HttpResult unknown = admin_->Get("/api/v1/rules");
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(unknown.ErrorCode(), "unauthorized");
  HttpResult post = admin_->Post("/api/v1/rules", testing::SampleRule().dump());
  EXPECT_EQ(post.status, 401);
  admin_->set_token(kAdminToken);
  HttpResult list = admin_->Get("/api/v1/rules");
  EXPECT_EQ(list.status, 200);
  EXPECT_TRUE(list.json["rules"].empty());
}

TEST_F(RestApiTest, CreateReadUpdateDeleteAndTheCatalogFollows) {
  HttpResult created =
      admin_->Post("/api/v1/rules", testing::SampleRule().dump());
  ASSERT_EQ(created.status, 201) << created.body;
  const int64_t id = created.json["id"].get<int64_t>();
  EXPECT_GT(id, 0);
  EXPECT_EQ(created.json["version"], 1);
  EXPECT_EQ(created.Header("Location"), "/api/v1/rules/" + std::to_string(id));
  for (const char* field : {"name", "domain", "match", "limit", "period",
                            "burst", "mode", "failure_mode", "enabled"}) {
    EXPECT_EQ(created.json[field], testing::SampleRule()[field]) << field;
  }
  RuleCatalog::Snapshot snapshot = controller_->catalog()->Get();
  ASSERT_EQ(snapshot.rules.size(), 1u);
  EXPECT_EQ(snapshot.rules[0].id, id);
  EXPECT_EQ(snapshot.rules[0].limit, 100);
  const int64_t created_revision = snapshot.version;

  HttpResult read = admin_->Get("/api/v1/rules/" + std::to_string(id));
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(read.json, created.json);

  HttpResult list = admin_->Get("/api/v1/rules");
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(list.json["rules"].size(), 1u);
  EXPECT_EQ(list.json["rules"][0], created.json);
  EXPECT_EQ(list.json["revision"], created_revision);

  json changed = testing::SampleRule();
  changed["limit"] = 5;
  changed["period"] = "1m";
  changed["match"] = {{"client_id", "acme"}};
  HttpResult updated =
      admin_->Put("/api/v1/rules/" + std::to_string(id), changed.dump());
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(updated.json["version"], 2);
  EXPECT_EQ(updated.json["limit"], 5);
  EXPECT_EQ(updated.json["period"], "1m");
  EXPECT_EQ(admin_->Get("/api/v1/rules/" + std::to_string(id)).json,
            updated.json);
  snapshot = controller_->catalog()->Get();
  ASSERT_EQ(snapshot.rules.size(), 1u);
  EXPECT_EQ(snapshot.rules[0].limit, 5);
  EXPECT_EQ(snapshot.rules[0].period_ms, 60000);
  EXPECT_EQ(snapshot.rules[0].version, 2);
  EXPECT_EQ(snapshot.version, created_revision + 1);

  HttpResult deleted = admin_->Delete("/api/v1/rules/" + std::to_string(id));
  EXPECT_EQ(deleted.status, 204);
  EXPECT_TRUE(deleted.body.empty());
  EXPECT_EQ(admin_->Get("/api/v1/rules/" + std::to_string(id)).status, 404);
  EXPECT_EQ(admin_->Delete("/api/v1/rules/" + std::to_string(id)).status, 404);
  snapshot = controller_->catalog()->Get();
  EXPECT_TRUE(snapshot.rules.empty());
  EXPECT_EQ(snapshot.version, created_revision + 2);
}

TEST_F(RestApiTest, DefaultsApplyAndIdAndVersionInAPostAreIgnored) {
  json minimal = {{"name", "minimal"}, {"domain", "api"}, {"limit", 7},
                  {"period", "500ms"}, {"id", 999},       {"version", 42}};
  HttpResult created = admin_->Post("/api/v1/rules", minimal.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_NE(created.json["id"], 999);
  EXPECT_EQ(created.json["version"], 1);
  EXPECT_EQ(created.json["burst"], 7);
  EXPECT_EQ(created.json["mode"], "enforce");
  EXPECT_EQ(created.json["failure_mode"], "local");
  EXPECT_EQ(created.json["enabled"], true);
  EXPECT_EQ(created.json["match"], json::object());
}

TEST_F(RestApiTest, InvalidRulesAre422NamingTheField) {
  struct Case {
    std::string field;
    json value;
  };
  const std::vector<Case> cases = {
      {"limit", 0},          {"limit", "ten"},      {"period", "1x"},
      {"period", 5},         {"burst", -1},         {"mode", "block"},
      {"failure_mode", "x"}, {"name", "has space"}, {"enabled", "yes"},
  };
  for (const Case& c : cases) {
    json rule = testing::SampleRule();
    rule[c.field] = c.value;
    HttpResult refused = admin_->Post("/api/v1/rules", rule.dump());
    EXPECT_EQ(refused.status, 422) << c.field << ": " << refused.body;
    EXPECT_EQ(refused.ErrorCode(), "invalid_argument") << refused.body;
    EXPECT_EQ(refused.ErrorField(), c.field) << refused.body;
    EXPECT_FALSE(refused.ErrorPart("message").empty());
  }
  json missing = testing::SampleRule();
  missing.erase("domain");
  HttpResult no_domain = admin_->Post("/api/v1/rules", missing.dump());
  EXPECT_EQ(no_domain.status, 422);
  EXPECT_EQ(no_domain.ErrorField(), "domain");
  json unknown = testing::SampleRule();
  unknown["colour"] = "blue";
  HttpResult extra = admin_->Post("/api/v1/rules", unknown.dump());
  EXPECT_EQ(extra.status, 422);
  EXPECT_EQ(extra.ErrorField(), "colour") << extra.body;
  HttpResult array = admin_->Post("/api/v1/rules", "[1, 2]");
  EXPECT_EQ(array.status, 422);
  // Nothing was stored.
  EXPECT_TRUE(admin_->Get("/api/v1/rules").json["rules"].empty());
  EXPECT_TRUE(controller_->catalog()->Get().rules.empty());
}

TEST_F(RestApiTest, MalformedBodiesAre400AndOversizedOnes413) {
  for (const char* body : {"{", "{\"name\": }", "not json"}) {
    HttpResult bad = admin_->Post("/api/v1/rules", body);
    EXPECT_EQ(bad.status, 400) << body;
    EXPECT_EQ(bad.ErrorCode(), "invalid_json") << bad.body;
  }
  HttpResult empty = admin_->Send(methods::POST, "/api/v1/rules", "");
  EXPECT_EQ(empty.status, 400);
  EXPECT_EQ(empty.ErrorCode(), "invalid_json");

  std::string huge = "{\"name\": \"" + std::string(1 << 20, 'a') + "\"}";
  HttpResult too_large = admin_->Post("/api/v1/rules", huge);
  EXPECT_EQ(too_large.status, 413);
  EXPECT_EQ(too_large.ErrorCode(), "body_too_large");
  EXPECT_NE(too_large.ErrorPart("message").find("1048576 bytes"),
            std::string::npos);
  // The server is still fine afterwards.
  EXPECT_EQ(admin_->Get("/api/v1/rules").status, 200);
}

TEST_F(RestApiTest, UnknownRulesAndRoutesAre404) {
  HttpResult rule = admin_->Get("/api/v1/rules/987654");
  EXPECT_EQ(rule.status, 404);
  EXPECT_EQ(rule.ErrorCode(), "not_found");
  EXPECT_EQ(
      admin_->Put("/api/v1/rules/987654", testing::SampleRule().dump()).status,
      404);
  EXPECT_EQ(admin_->Delete("/api/v1/rules/987654").status, 404);
  for (const char* path :
       {"/api/v1/rules/abc", "/api/v1/rules/-1", "/api/v1/rules/1/extra",
        "/api/v1/nothing", "/api/v2/rules"}) {
    HttpResult missing = admin_->Get(path);
    EXPECT_EQ(missing.status, 404) << path;
    EXPECT_EQ(missing.ErrorCode(), "not_found") << path;
  }
}

TEST_F(RestApiTest, WrongMethodsAre405WithAllow) {
  json created = Create(testing::SampleRule());
  const std::string path = "/api/v1/rules/" + created["id"].dump();
  HttpResult patch =
      admin_->Send(methods::PATCH, path, testing::SampleRule().dump());
  EXPECT_EQ(patch.status, 405);
  EXPECT_EQ(patch.ErrorCode(), "method_not_allowed");
  EXPECT_EQ(patch.Header("Allow"), "GET, PUT, DELETE");
  HttpResult delete_all = admin_->Delete("/api/v1/rules");
  EXPECT_EQ(delete_all.status, 405);
  EXPECT_EQ(delete_all.Header("Allow"), "GET, POST");
  EXPECT_EQ(admin_->Send(methods::POST, "/healthz", "", false).status, 405);
}

TEST_F(RestApiTest, DuplicateNamesAre409) {
  Create(testing::SampleRule());
  HttpResult duplicate =
      admin_->Post("/api/v1/rules", testing::SampleRule().dump());
  EXPECT_EQ(duplicate.status, 409);
  EXPECT_EQ(duplicate.ErrorCode(), "already_exists");
  EXPECT_EQ(duplicate.ErrorField(), "name");
  json other = Create(Named("other"));
  HttpResult rename = admin_->Put("/api/v1/rules/" + other["id"].dump(),
                                  testing::SampleRule().dump());
  EXPECT_EQ(rename.status, 409);
  EXPECT_EQ(rename.ErrorField(), "name");
  EXPECT_EQ(admin_->Get("/api/v1/rules").json["rules"].size(), 2u);
}

TEST_F(RestApiTest, PutWithAnotherIdIs422OnId) {
  json created = Create(testing::SampleRule());
  json body = testing::SampleRule();
  body["id"] = created["id"].get<int64_t>() + 1;
  HttpResult refused =
      admin_->Put("/api/v1/rules/" + created["id"].dump(), body.dump());
  EXPECT_EQ(refused.status, 422);
  EXPECT_EQ(refused.ErrorField(), "id");
  // The same id, or none, is fine.
  body["id"] = created["id"];
  EXPECT_EQ(
      admin_->Put("/api/v1/rules/" + created["id"].dump(), body.dump()).status,
      200);
}

TEST_F(RestApiTest, ConcurrentChangesReachTheCatalogInRevisionOrder) {
  constexpr int kThreads = 6;
  constexpr int kPerThread = 5;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        HttpResult created = admin_->Post(
            "/api/v1/rules",
            Named("r-" + std::to_string(t) + "-" + std::to_string(i)).dump());
        if (created.status != 201) ++failures[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0);
  HttpResult list = admin_->Get("/api/v1/rules");
  ASSERT_EQ(list.json["rules"].size(), size_t{kThreads * kPerThread});
  RuleCatalog::Snapshot snapshot = controller_->catalog()->Get();
  EXPECT_EQ(snapshot.rules.size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(snapshot.version, list.json["revision"].get<int64_t>());
}

TEST_F(RestApiTest, ChangesMadeInTheDatabaseReachTheCatalog) {
  // As another controller would: a rule and a revision bump in one
  // transaction.
  ExecSql(
      "BEGIN; INSERT INTO rules (name, domain, match, limit_tokens, "
      "period_ms, burst) VALUES ('elsewhere', 'api', '{}', 3, 1000, 3); "
      "UPDATE rules_state SET revision = revision + 1; COMMIT;");
  for (int i = 0; i < 100 && controller_->catalog()->Get().rules.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  RuleCatalog::Snapshot snapshot = controller_->catalog()->Get();
  ASSERT_EQ(snapshot.rules.size(), 1u);
  EXPECT_EQ(snapshot.rules[0].name, "elsewhere");
}

TEST_F(RestApiTest, DatabaseOutageIs503AndRecovers) {
  Create(testing::SampleRule());
  // PostgreSQL "goes away" for this database: no new sessions, and the
  // controller's session is killed.
  ExecSql("ALTER DATABASE " + test_db_->name() + " ALLOW_CONNECTIONS false",
          true);
  ExecSql(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
      "datname = '" +
          test_db_->name() + "'",
      true);
  // Reads of the rule set come from memory; writes are refused.
  HttpResult list = admin_->Get("/api/v1/rules");
  EXPECT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.Header("X-Sluice-Source"), "memory");
  EXPECT_EQ(list.json["rules"].size(), 1u);
  HttpResult write = admin_->Post("/api/v1/rules", Named("during").dump());
  EXPECT_EQ(write.status, 503) << write.body;
  EXPECT_EQ(write.ErrorCode(), "unavailable");
  EXPECT_EQ(admin_->Get("/api/v1/audit").status, 503);
  HttpResult ready = admin_->Send(methods::GET, "/readyz", "", false);
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.json["checks"]["database"], "ok");
  EXPECT_EQ(ready.json["checks"]["lease_server"], "ok");
  EXPECT_EQ(admin_->Send(methods::GET, "/healthz", "", false).status, 200);
  // Agents keep the rule set.
  EXPECT_EQ(controller_->catalog()->Get().rules.size(), 1u);

  ExecSql("ALTER DATABASE " + test_db_->name() + " ALLOW_CONNECTIONS true",
          true);
  HttpResult after = admin_->Post("/api/v1/rules", Named("after").dump());
  EXPECT_EQ(after.status, 201) << after.body;
  EXPECT_EQ(admin_->Send(methods::GET, "/readyz", "", false).status, 200);
  EXPECT_EQ(controller_->catalog()->Get().rules.size(), 2u);
}

// The server closes a keep-alive connection idle for the header timeout; a
// client that kept it in its pool opens a new one.
class IdleConnectionTest : public testing::ApiTest {
 protected:
  void SetUp() override {
    test_db_ = std::make_unique<testing::TestDatabase>();
    ControllerOptions options;
    options.http_limits.header_timeout_ms = 300;
    StartController(options);
  }
};

TEST_F(IdleConnectionTest, ClientsReconnectAfterTheServerClosedAnIdleOne) {
  EXPECT_EQ(admin_->Get("/api/v1/rules").status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(admin_->Get("/api/v1/rules").status, 200);
  EXPECT_EQ(admin_->Post("/api/v1/rules", testing::SampleRule().dump()).status,
            201);
}

}  // namespace
}  // namespace sluice
