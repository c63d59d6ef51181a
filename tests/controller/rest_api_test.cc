// The REST admin API end to end: a Controller in-process on a fresh
// database and free ports, driven by a real HTTP client.
#include "controller/rest_api.h"

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "controller/controller.h"
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

constexpr char kToken[] = "rest-api-test-admin-token";

const json kRule = {{"name", "search-per-client"},
                    {"domain", "api"},
                    {"match", {{"route", "/search"}, {"client_id", "*"}}},
                    {"limit", 100},
                    {"period", "1s"},
                    {"burst", 200},
                    {"mode", "enforce"},
                    {"failure_mode", "local"},
                    {"enabled", true}};

class RestApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test_db_ = std::make_unique<testing::TestDatabase>();
    ControllerOptions options;
    options.db = test_db_->conninfo();
    options.http = "127.0.0.1:" + std::to_string(PickFreePort());
    options.agents = "tcp://127.0.0.1:" + std::to_string(PickFreePort());
    options.admin_token = kToken;
    options.token_out = &token_out_;
    options.catalog_sync_ms = 200;
    controller_ = std::make_unique<Controller>(options);
    Status started = controller_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    Status ready = controller_->WaitUntilReady(10000);
    ASSERT_TRUE(ready.ok()) << ready.ToString();
    client_ = std::make_unique<HttpTestClient>("http://" + options.http);
    client_->set_token(kToken);
  }
  void TearDown() override {
    client_.reset();
    if (controller_ != nullptr) controller_->Stop();
    controller_.reset();
    test_db_.reset();
  }

  // POSTs `rule` and expects 201.
  json Create(const json& rule) {
    HttpResult created = client_->Post("/api/v1/rules", rule.dump());
    EXPECT_EQ(created.status, 201) << created.body;
    return created.json;
  }
  static json Named(const std::string& name) {
    json rule = kRule;
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

  std::ostringstream token_out_;
  std::unique_ptr<testing::TestDatabase> test_db_;
  std::unique_ptr<Controller> controller_;
  std::unique_ptr<HttpTestClient> client_;
};

TEST_F(RestApiTest, HealthAndReadinessNeedNoToken) {
  HttpResult health = client_->Send(methods::GET, "/healthz", "", false);
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.json["status"], "ok");
  HttpResult ready = client_->Send(methods::GET, "/readyz", "", false);
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(ready.json["checks"]["database"], "ok");
  EXPECT_EQ(ready.json["checks"]["lease_server"], "ok");
}

TEST_F(RestApiTest, RootIsAPlaceholderPageLinkingTheApi) {
  HttpResult page = client_->Send(methods::GET, "/", "", false);
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.Header("Content-Type").find("text/html"), std::string::npos);
  EXPECT_NE(page.body.find("href=\"/api/v1/rules\""), std::string::npos);
  EXPECT_NE(page.body.find("later"), std::string::npos);
}

TEST_F(RestApiTest, ApiNeedsAKnownBearerToken) {
  for (const char* path : {"/api/v1/rules", "/api/v1/rules/1", "/api/v1/x"}) {
    HttpResult missing = client_->Send(methods::GET, path, "", false);
    EXPECT_EQ(missing.status, 401) << path;
    EXPECT_EQ(missing.ErrorCode(), "unauthorized");
    EXPECT_NE(missing.ErrorPart("message").find("Authorization"),
              std::string::npos);
    EXPECT_NE(missing.Header("WWW-Authenticate").find("Bearer"),
              std::string::npos);
  }
  client_->set_token("not-the-token");
  HttpResult unknown = client_->Get("/api/v1/rules");
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(unknown.ErrorCode(), "unauthorized");
  HttpResult post = client_->Post("/api/v1/rules", kRule.dump());
  EXPECT_EQ(post.status, 401);
  client_->set_token(kToken);
  HttpResult list = client_->Get("/api/v1/rules");
  EXPECT_EQ(list.status, 200);
  EXPECT_TRUE(list.json["rules"].empty());
}

TEST_F(RestApiTest, CreateReadUpdateDeleteAndTheCatalogFollows) {
  HttpResult created = client_->Post("/api/v1/rules", kRule.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  const int64_t id = created.json["id"].get<int64_t>();
  EXPECT_GT(id, 0);
  EXPECT_EQ(created.json["version"], 1);
  EXPECT_EQ(created.Header("Location"), "/api/v1/rules/" + std::to_string(id));
  for (const char* field : {"name", "domain", "match", "limit", "period",
                            "burst", "mode", "failure_mode", "enabled"}) {
    EXPECT_EQ(created.json[field], kRule[field]) << field;
  }
  RuleCatalog::Snapshot snapshot = controller_->catalog()->Get();
  ASSERT_EQ(snapshot.rules.size(), 1u);
  EXPECT_EQ(snapshot.rules[0].id, id);
  EXPECT_EQ(snapshot.rules[0].limit, 100);
  const int64_t created_revision = snapshot.version;

  HttpResult read = client_->Get("/api/v1/rules/" + std::to_string(id));
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(read.json, created.json);

  HttpResult list = client_->Get("/api/v1/rules");
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(list.json["rules"].size(), 1u);
  EXPECT_EQ(list.json["rules"][0], created.json);
  EXPECT_EQ(list.json["revision"], created_revision);

  json changed = kRule;
  changed["limit"] = 5;
  changed["period"] = "1m";
  changed["match"] = {{"client_id", "acme"}};
  HttpResult updated =
      client_->Put("/api/v1/rules/" + std::to_string(id), changed.dump());
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(updated.json["version"], 2);
  EXPECT_EQ(updated.json["limit"], 5);
  EXPECT_EQ(updated.json["period"], "1m");
  EXPECT_EQ(client_->Get("/api/v1/rules/" + std::to_string(id)).json,
            updated.json);
  snapshot = controller_->catalog()->Get();
  ASSERT_EQ(snapshot.rules.size(), 1u);
  EXPECT_EQ(snapshot.rules[0].limit, 5);
  EXPECT_EQ(snapshot.rules[0].period_ms, 60000);
  EXPECT_EQ(snapshot.rules[0].version, 2);
  EXPECT_EQ(snapshot.version, created_revision + 1);

  HttpResult deleted = client_->Delete("/api/v1/rules/" + std::to_string(id));
  EXPECT_EQ(deleted.status, 204);
  EXPECT_TRUE(deleted.body.empty());
  EXPECT_EQ(client_->Get("/api/v1/rules/" + std::to_string(id)).status, 404);
  EXPECT_EQ(client_->Delete("/api/v1/rules/" + std::to_string(id)).status, 404);
  snapshot = controller_->catalog()->Get();
  EXPECT_TRUE(snapshot.rules.empty());
  EXPECT_EQ(snapshot.version, created_revision + 2);
}

TEST_F(RestApiTest, DefaultsApplyAndIdAndVersionInAPostAreIgnored) {
  json minimal = {{"name", "minimal"}, {"domain", "api"}, {"limit", 7},
                  {"period", "500ms"}, {"id", 999},       {"version", 42}};
  HttpResult created = client_->Post("/api/v1/rules", minimal.dump());
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
    json rule = kRule;
    rule[c.field] = c.value;
    HttpResult refused = client_->Post("/api/v1/rules", rule.dump());
    EXPECT_EQ(refused.status, 422) << c.field << ": " << refused.body;
    EXPECT_EQ(refused.ErrorCode(), "invalid_argument") << refused.body;
    EXPECT_EQ(refused.ErrorField(), c.field) << refused.body;
    EXPECT_FALSE(refused.ErrorPart("message").empty());
  }
  json missing = kRule;
  missing.erase("domain");
  HttpResult no_domain = client_->Post("/api/v1/rules", missing.dump());
  EXPECT_EQ(no_domain.status, 422);
  EXPECT_EQ(no_domain.ErrorField(), "domain");
  json unknown = kRule;
  unknown["colour"] = "blue";
  HttpResult extra = client_->Post("/api/v1/rules", unknown.dump());
  EXPECT_EQ(extra.status, 422);
  EXPECT_EQ(extra.ErrorField(), "colour") << extra.body;
  HttpResult array = client_->Post("/api/v1/rules", "[1, 2]");
  EXPECT_EQ(array.status, 422);
  // Nothing was stored.
  EXPECT_TRUE(client_->Get("/api/v1/rules").json["rules"].empty());
  EXPECT_TRUE(controller_->catalog()->Get().rules.empty());
}

TEST_F(RestApiTest, MalformedOrOversizedBodiesAre400) {
  for (const char* body : {"{", "{\"name\": }", "not json"}) {
    HttpResult bad = client_->Post("/api/v1/rules", body);
    EXPECT_EQ(bad.status, 400) << body;
    EXPECT_EQ(bad.ErrorCode(), "invalid_json") << bad.body;
  }
  HttpResult empty = client_->Send(methods::POST, "/api/v1/rules", "");
  EXPECT_EQ(empty.status, 400);
  EXPECT_EQ(empty.ErrorCode(), "invalid_json");

  std::string huge = "{\"name\": \"" + std::string(1 << 20, 'a') + "\"}";
  HttpResult too_large = client_->Post("/api/v1/rules", huge);
  EXPECT_EQ(too_large.status, 400);
  EXPECT_EQ(too_large.ErrorCode(), "body_too_large");
  // The server is still fine afterwards.
  EXPECT_EQ(client_->Get("/api/v1/rules").status, 200);
}

TEST_F(RestApiTest, UnknownRulesAndRoutesAre404) {
  HttpResult rule = client_->Get("/api/v1/rules/987654");
  EXPECT_EQ(rule.status, 404);
  EXPECT_EQ(rule.ErrorCode(), "not_found");
  EXPECT_EQ(client_->Put("/api/v1/rules/987654", kRule.dump()).status, 404);
  EXPECT_EQ(client_->Delete("/api/v1/rules/987654").status, 404);
  for (const char* path :
       {"/api/v1/rules/abc", "/api/v1/rules/-1", "/api/v1/rules/1/extra",
        "/api/v1/nothing", "/api/v2/rules"}) {
    HttpResult missing = client_->Get(path);
    EXPECT_EQ(missing.status, 404) << path;
    EXPECT_EQ(missing.ErrorCode(), "not_found") << path;
  }
}

TEST_F(RestApiTest, WrongMethodsAre405WithAllow) {
  json created = Create(kRule);
  const std::string path = "/api/v1/rules/" + created["id"].dump();
  HttpResult patch = client_->Send(methods::PATCH, path, kRule.dump());
  EXPECT_EQ(patch.status, 405);
  EXPECT_EQ(patch.ErrorCode(), "method_not_allowed");
  EXPECT_EQ(patch.Header("Allow"), "GET, PUT, DELETE");
  HttpResult delete_all = client_->Delete("/api/v1/rules");
  EXPECT_EQ(delete_all.status, 405);
  EXPECT_EQ(delete_all.Header("Allow"), "GET, POST");
  EXPECT_EQ(client_->Send(methods::POST, "/healthz", "", false).status, 405);
}

TEST_F(RestApiTest, DuplicateNamesAre409) {
  Create(kRule);
  HttpResult duplicate = client_->Post("/api/v1/rules", kRule.dump());
  EXPECT_EQ(duplicate.status, 409);
  EXPECT_EQ(duplicate.ErrorCode(), "already_exists");
  EXPECT_EQ(duplicate.ErrorField(), "name");
  json other = Create(Named("other"));
  HttpResult rename =
      client_->Put("/api/v1/rules/" + other["id"].dump(), kRule.dump());
  EXPECT_EQ(rename.status, 409);
  EXPECT_EQ(rename.ErrorField(), "name");
  EXPECT_EQ(client_->Get("/api/v1/rules").json["rules"].size(), 2u);
}

TEST_F(RestApiTest, PutWithAnotherIdIs422OnId) {
  json created = Create(kRule);
  json body = kRule;
  body["id"] = created["id"].get<int64_t>() + 1;
  HttpResult refused =
      client_->Put("/api/v1/rules/" + created["id"].dump(), body.dump());
  EXPECT_EQ(refused.status, 422);
  EXPECT_EQ(refused.ErrorField(), "id");
  // The same id, or none, is fine.
  body["id"] = created["id"];
  EXPECT_EQ(
      client_->Put("/api/v1/rules/" + created["id"].dump(), body.dump()).status,
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
        HttpResult created = client_->Post(
            "/api/v1/rules",
            Named("r-" + std::to_string(t) + "-" + std::to_string(i)).dump());
        if (created.status != 201) ++failures[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0);
  HttpResult list = client_->Get("/api/v1/rules");
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
  Create(kRule);
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
  HttpResult list = client_->Get("/api/v1/rules");
  EXPECT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.Header("X-Sluice-Source"), "memory");
  EXPECT_EQ(list.json["rules"].size(), 1u);
  HttpResult write = client_->Post("/api/v1/rules", Named("during").dump());
  EXPECT_EQ(write.status, 503) << write.body;
  EXPECT_EQ(write.ErrorCode(), "unavailable");
  EXPECT_EQ(client_->Get("/api/v1/audit").status, 503);
  HttpResult ready = client_->Send(methods::GET, "/readyz", "", false);
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.json["checks"]["database"], "ok");
  EXPECT_EQ(ready.json["checks"]["lease_server"], "ok");
  EXPECT_EQ(client_->Send(methods::GET, "/healthz", "", false).status, 200);
  // Agents keep the rule set.
  EXPECT_EQ(controller_->catalog()->Get().rules.size(), 1u);

  ExecSql("ALTER DATABASE " + test_db_->name() + " ALLOW_CONNECTIONS true",
          true);
  HttpResult after = client_->Post("/api/v1/rules", Named("after").dump());
  EXPECT_EQ(after.status, 201) << after.body;
  EXPECT_EQ(client_->Send(methods::GET, "/readyz", "", false).status, 200);
  EXPECT_EQ(controller_->catalog()->Get().rules.size(), 2u);
}

}  // namespace
}  // namespace sluice
