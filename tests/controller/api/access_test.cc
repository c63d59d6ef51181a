// Access to the REST API: tokens created, listed and revoked through it,
// and what each role may do (docs/api.md: viewer, editor, admin).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "controller/api/auth.h"
#include "controller/store/token_secret.h"
#include "tests/controller/api_fixture.h"

namespace sluice {
namespace {

using nlohmann::json;
using testing::HttpResult;
using testing::RuleNamed;
using web::http::methods;

class AccessTest : public testing::ApiTest {};

TEST_F(AccessTest, TokenSecretIsShownOnceAndOnlyItsHashIsStored) {
  HttpResult created =
      admin_->Post("/api/v1/tokens", R"({"name": "ci", "role": "editor"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string secret = created.json["token"];
  EXPECT_GE(secret.size(), 40u);
  EXPECT_EQ(created.json["name"], "ci");
  EXPECT_EQ(created.json["role"], "editor");
  EXPECT_EQ(created.json["created_by"], "SLUICE_ADMIN_TOKEN");
  EXPECT_TRUE(created.json["revoked_at"].is_null());
  const int64_t id = created.json["id"];
  EXPECT_EQ(created.Header("Location"), "/api/v1/tokens/" + std::to_string(id));

  // The database holds the SHA-256, never the secret.
  EXPECT_EQ(Sql("SELECT token_sha256 FROM api_tokens WHERE id = " +
                std::to_string(id)),
            HashToken(secret));
  EXPECT_EQ(Count("SELECT count(*) FROM api_tokens WHERE token_sha256 = '" +
                  secret + "' OR name = '" + secret + "'"),
            0);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE before::text LIKE "
                  "'%" +
                  secret + "%' OR after::text LIKE '%" + secret + "%'"),
            0);

  // Listing never shows a secret or a hash again.
  HttpResult list = admin_->Get("/api/v1/tokens");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.body.find(secret), std::string::npos);
  EXPECT_EQ(list.body.find(HashToken(secret)), std::string::npos);
  bool found = false;
  for (const json& token : list.json["tokens"]) {
    EXPECT_FALSE(token.contains("token"));
    if (token["id"] == id) {
      found = true;
      EXPECT_EQ(token["role"], "editor");
    }
  }
  EXPECT_TRUE(found) << list.body;

  // And the secret works.
  EXPECT_EQ(Client(secret)->Get("/api/v1/rules").status, 200);
}

TEST_F(AccessTest, RolesMatrix) {
  const std::string viewer = NewToken("viewer-1", "viewer");
  const std::string editor = NewToken("editor-1", "editor");
  const json rule = Create(RuleNamed("seed"));
  const std::string rule_path = "/api/v1/rules/" + rule["id"].dump();
  const std::string config = admin_->Get("/api/v1/config").body;

  struct Call {
    web::http::method method;
    std::string path;
    std::string body;
    std::string least;  // the least role allowed
  };
  int n = 0;
  auto next_rule = [&n] { return RuleNamed("r" + std::to_string(++n)).dump(); };
  for (const std::string& who :
       {std::string("viewer"), std::string("editor"), std::string("admin")}) {
    const std::string secret = who == "viewer"   ? viewer
                               : who == "editor" ? editor
                                                 : kAdminToken;
    auto client = Client(secret);
    const std::vector<Call> calls = {
        {methods::GET, "/api/v1/rules", "", "viewer"},
        {methods::GET, rule_path, "", "viewer"},
        {methods::GET, rule_path + "/history", "", "viewer"},
        {methods::GET, "/api/v1/config", "", "viewer"},
        {methods::GET, "/api/v1/audit", "", "viewer"},
        {methods::POST, "/api/v1/rules", next_rule(), "editor"},
        {methods::PUT, rule_path, RuleNamed("seed", 7).dump(), "editor"},
        {methods::PUT, "/api/v1/config?dry_run=true", config, "editor"},
        {methods::GET, "/api/v1/tokens", "", "admin"},
        {methods::POST, "/api/v1/tokens",
         json{{"name", "made-by-" + who}, {"role", "viewer"}}.dump(), "admin"},
    };
    auto rank = [](const std::string& role) {
      return role == "viewer" ? 1 : role == "editor" ? 2 : 3;
    };
    for (const Call& call : calls) {
      HttpResult result = client->Send(call.method, call.path, call.body);
      const std::string what = who + " " + call.method + " " + call.path;
      if (rank(who) >= rank(call.least)) {
        EXPECT_LT(result.status, 300) << what << ": " << result.body;
      } else {
        EXPECT_EQ(result.status, 403) << what << ": " << result.body;
        EXPECT_EQ(result.ErrorCode(), "forbidden") << what;
        EXPECT_NE(result.ErrorPart("message").find(call.least),
                  std::string::npos)
            << result.body;
      }
    }
  }
  // Deleting needs editor; a viewer's refusal changed nothing.
  EXPECT_EQ(Client(viewer)->Delete(rule_path).status, 403);
  EXPECT_EQ(admin_->Get(rule_path).status, 200);
  EXPECT_EQ(Client(editor)->Delete(rule_path).status, 204);
  // Revoking needs admin.
  HttpResult tokens = admin_->Get("/api/v1/tokens");
  const std::string any_token =
      "/api/v1/tokens/" + tokens.json["tokens"].back()["id"].dump();
  EXPECT_EQ(Client(editor)->Delete(any_token).status, 403);
  EXPECT_EQ(Client(viewer)->Delete(any_token).status, 403);
}

TEST_F(AccessTest, NoOrUnknownTokenIs401WithTheErrorBody) {
  for (const char* path : {"/api/v1/rules", "/api/v1/tokens", "/api/v1/audit",
                           "/api/v1/config", "/api/v1/rules/1/history"}) {
    HttpResult missing = admin_->Send(methods::GET, path, "", false);
    EXPECT_EQ(missing.status, 401) << path;
    EXPECT_EQ(missing.ErrorCode(), "unauthorized") << path;
    EXPECT_FALSE(missing.ErrorPart("message").empty());
    HttpResult unknown = Client("nobody-knows-this")->Get(path);
    EXPECT_EQ(unknown.status, 401) << path;
    EXPECT_EQ(unknown.ErrorCode(), "unauthorized");
  }
  HttpResult write =
      Client("nobody-knows-this")
          ->Post("/api/v1/tokens", R"({"name": "x", "role": "admin"})");
  EXPECT_EQ(write.status, 401);
}

TEST_F(AccessTest, RevocationIsImmediate) {
  const std::string secret = NewToken("short-lived", "editor");
  auto client = Client(secret);
  ASSERT_EQ(client->Get("/api/v1/rules").status, 200);
  HttpResult tokens = admin_->Get("/api/v1/tokens");
  int64_t id = 0;
  for (const json& token : tokens.json["tokens"]) {
    if (token["name"] == "short-lived") id = token["id"];
  }
  ASSERT_GT(id, 0);
  HttpResult revoked = admin_->Delete("/api/v1/tokens/" + std::to_string(id));
  EXPECT_EQ(revoked.status, 204) << revoked.body;
  // The very next request, with no wait for a periodic reload.
  HttpResult after = client->Get("/api/v1/rules");
  EXPECT_EQ(after.status, 401) << after.body;
  EXPECT_EQ(Sql("SELECT revoked_at IS NOT NULL FROM api_tokens WHERE id = " +
                std::to_string(id)),
            "t");
  // Listed as revoked; revoking again is 404; the name is free again.
  const json listed = admin_->Get("/api/v1/tokens").json;
  for (const json& token : listed["tokens"]) {
    if (token["id"] == id) {
      EXPECT_FALSE(token["revoked_at"].is_null());
    }
  }
  EXPECT_EQ(admin_->Delete("/api/v1/tokens/" + std::to_string(id)).status, 404);
  const std::string again = NewToken("short-lived", "viewer");
  EXPECT_EQ(Client(again)->Get("/api/v1/rules").status, 200);
  EXPECT_EQ(client->Get("/api/v1/rules").status, 401);
}

TEST_F(AccessTest, TheLastAdminTokenCannotBeRevoked) {
  HttpResult tokens = admin_->Get("/api/v1/tokens");
  ASSERT_EQ(tokens.json["tokens"].size(), 1u) << tokens.body;
  const std::string own =
      "/api/v1/tokens/" + tokens.json["tokens"][0]["id"].dump();
  HttpResult refused = admin_->Delete(own);
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_NE(refused.ErrorPart("message").find("last"), std::string::npos);
  EXPECT_EQ(admin_->Get("/api/v1/rules").status, 200);
  // With a second admin, the first may go (even revoking itself).
  const std::string second = NewToken("second-admin", "admin");
  EXPECT_EQ(admin_->Delete(own).status, 204);
  EXPECT_EQ(admin_->Get("/api/v1/rules").status, 401);
  EXPECT_EQ(Client(second)->Get("/api/v1/tokens").status, 200);
}

TEST_F(AccessTest, BadTokenRequestsAre422OrConflict) {
  struct Case {
    std::string body;
    std::string field;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"role": "admin"})", "name"},
           {R"({"name": "has space", "role": "admin"})", "name"},
           {R"({"name": "x", "role": "root"})", "role"},
           {R"({"name": "x"})", "role"},
           {R"({"name": "x", "role": "viewer", "expires": 1})", "expires"}}) {
    HttpResult refused = admin_->Post("/api/v1/tokens", c.body);
    EXPECT_EQ(refused.status, 422) << c.body << ": " << refused.body;
    EXPECT_EQ(refused.ErrorField(), c.field) << refused.body;
  }
  EXPECT_EQ(admin_->Post("/api/v1/tokens", "{").status, 400);
  NewToken("dup", "viewer");
  HttpResult duplicate =
      admin_->Post("/api/v1/tokens", R"({"name": "dup", "role": "viewer"})");
  EXPECT_EQ(duplicate.status, 409);
  EXPECT_EQ(duplicate.ErrorField(), "name");
  EXPECT_EQ(admin_->Delete("/api/v1/tokens/987654").status, 404);
}

}  // namespace
}  // namespace sluice
