// AdminApi::Routes() is the table the router dispatches from: every listed
// route is served, and nothing else is.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "controller/api/admin_api.h"
#include "platform/curve_keys.h"
#include "tests/controller/api_fixture.h"

namespace sluice {
namespace {

using testing::HttpResult;

class RoutesTest : public testing::ApiTest {};

TEST(RouteTableTest, ListsTheRoutesOfTheContract) {
  std::set<std::string> routes;
  for (const RouteInfo& route : AdminApi::Routes()) {
    EXPECT_TRUE(routes.insert(route.method + " " + route.path).second)
        << "listed twice: " << route.method << " " << route.path;
  }
  const std::set<std::string> expected = {
      "GET /",
      "GET /healthz",
      "GET /readyz",
      "POST /api/v1/session",
      "GET /api/v1/session",
      "DELETE /api/v1/session",
      "POST /api/v1/explain",
      "GET /api/v1/rules",
      "POST /api/v1/rules",
      "GET /api/v1/rules/{id}",
      "PUT /api/v1/rules/{id}",
      "DELETE /api/v1/rules/{id}",
      "GET /api/v1/rules/{id}/history",
      "GET /api/v1/config",
      "PUT /api/v1/config",
      "GET /api/v1/tokens",
      "POST /api/v1/tokens",
      "DELETE /api/v1/tokens/{id}",
      "GET /api/v1/audit",
      "GET /api/v1/agent-keys",
      "POST /api/v1/agent-keys",
      "DELETE /api/v1/agent-keys/{id}",
      "GET /api/v1/usage",
      "GET /api/v1/usage/rules",
      "GET /api/v1/usage/top",
      "GET /api/v1/agents",
      "GET /api/v1/controllers",
  };
  EXPECT_EQ(routes, expected);
}

TEST_F(RoutesTest, EveryListedRouteIsServed) {
  const std::string rule_id = Create(testing::RuleNamed("r"))["id"].dump();
  NewToken("victim", "viewer");
  const std::string token_id =
      Sql("SELECT id FROM api_tokens WHERE name = 'victim'");
  StatusOr<CurveKeyPair> pair = GenerateCurveKeyPair();
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  HttpResult key = admin_->Post(
      "/api/v1/agent-keys",
      nlohmann::json{{"name", "routes-agent"}, {"public_key", pair->public_key}}
          .dump());
  ASSERT_EQ(key.status, 201) << key.body;
  const std::string key_id = key.json["id"].dump();
  for (const RouteInfo& route : AdminApi::Routes()) {
    std::string path = route.path;
    size_t at = path.find("{id}");
    if (at != std::string::npos) {
      std::string id = rule_id;
      if (path.find("/tokens/") != std::string::npos) id = token_id;
      if (path.find("/agent-keys/") != std::string::npos) id = key_id;
      path.replace(at, 4, id);
    }
    // Bodies that may or may not be valid: only the routing is tested.
    HttpResult result =
        admin_->Send(web::http::method(route.method), path, "{\"rules\": []}");
    EXPECT_NE(result.status, 404)
        << route.method << " " << path << ": " << result.body;
    EXPECT_NE(result.status, 405) << route.method << " " << path;
    EXPECT_NE(result.status, 500)
        << route.method << " " << path << ": " << result.body;
  }
}

TEST_F(RoutesTest, WrongMethodsAre405WithTheAllowOfTheTable) {
  HttpResult patch = admin_->Send(web::http::methods::PATCH, "/api/v1/config");
  EXPECT_EQ(patch.status, 405);
  EXPECT_EQ(patch.Header("Allow"), "GET, PUT");
  HttpResult post = admin_->Post("/api/v1/audit", "{}");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.Header("Allow"), "GET");
  HttpResult history = admin_->Delete("/api/v1/rules/1/history");
  EXPECT_EQ(history.Header("Allow"), "GET");
  HttpResult token = admin_->Send(web::http::methods::GET, "/api/v1/tokens/1");
  EXPECT_EQ(token.status, 405);
  EXPECT_EQ(token.Header("Allow"), "DELETE");
}

}  // namespace
}  // namespace sluice
