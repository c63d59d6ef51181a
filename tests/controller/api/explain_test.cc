// POST /api/v1/explain against a Controller in-process: the rules that
// apply (overrides and AND as RL.CHECK matches them), the bucket of each,
// the most restrictive, and bad bodies.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "tests/controller/api_fixture.h"
#include "tests/controller/http_test_client.h"

namespace sluice {
namespace {

using nlohmann::json;
using testing::HttpResult;

class ExplainTest : public testing::ApiTest {
 protected:
  json Rule(const std::string& name, json match, int limit, int burst,
            const std::string& mode = "enforce") {
    return Create(json{{"name", name},
                       {"domain", "api"},
                       {"match", match},
                       {"limit", limit},
                       {"period", "1s"},
                       {"burst", burst},
                       {"mode", mode}});
  }
  HttpResult Explain(const json& descriptor) {
    return admin_->Post(
        "/api/v1/explain",
        json{{"domain", "api"}, {"descriptor", descriptor}}.dump());
  }
  // Waits until the catalog in memory holds what was created.
  void Settle() {
    for (int i = 0; i < 100; ++i) {
      HttpResult probe = Explain(json{{"client_id", "x"}, {"route", "/r"}});
      if (probe.json.value("revision", 0) >= revision_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  int64_t revision_ = 0;
};

TEST_F(ExplainTest, TheRulesThatApplyTheirBucketsAndTheMostRestrictive) {
  json per_client = Rule("per-client", {{"client_id", "*"}}, 100, 100);
  json acme = Rule("acme", {{"client_id", "acme"}}, 1000, 1000);
  json route = Rule("route", {{"route", "/search"}}, 5, 5);
  Rule("shadow", {{"route", "*"}, {"client_id", "*"}}, 1, 1, "shadow");
  Rule("same-keys", {{"client_id", "*"}}, 1, 1);
  revision_ = admin_->Get("/api/v1/rules").json["revision"].get<int64_t>();
  Settle();

  HttpResult result = Explain(json{{"route", "/search"}, {"client_id", "42"}});
  ASSERT_EQ(result.status, 200) << result.body;
  json names = json::array();
  for (const json& entry : result.json["rules"]) {
    names.push_back(entry["rule"]["name"]);
    if (entry["rule"]["name"] == "shadow") {
      EXPECT_EQ(entry["bucket"],
                (json{{"client_id", "42"}, {"route", "/search"}}));
    }
    if (entry["rule"]["name"] == "route") {
      EXPECT_EQ(entry["bucket"], json::object());
    }
  }
  // per-client and same-keys share a key set: the lower id applies.
  EXPECT_NE(std::find(names.begin(), names.end(), "per-client"), names.end())
      << result.body;
  EXPECT_EQ(std::find(names.begin(), names.end(), "same-keys"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "route"), names.end());
  EXPECT_EQ(result.json["most_restrictive"], route["id"]) << result.body;

  // An exact value overrides the wildcard of the same key set.
  HttpResult for_acme = Explain(json{{"client_id", "acme"}});
  ASSERT_EQ(for_acme.status, 200);
  ASSERT_EQ(for_acme.json["rules"].size(), 1u) << for_acme.body;
  EXPECT_EQ(for_acme.json["rules"][0]["rule"]["id"], acme["id"]);
  EXPECT_EQ(for_acme.json["most_restrictive"], acme["id"]);

  HttpResult none = Explain(json{{"user", "bob"}});
  EXPECT_EQ(none.json["rules"].size(), 0u);
  EXPECT_TRUE(none.json["most_restrictive"].is_null());
  (void)per_client;
}

TEST_F(ExplainTest, BadBodiesNameTheField) {
  HttpResult no_domain =
      admin_->Post("/api/v1/explain", R"({"descriptor": {}})");
  EXPECT_EQ(no_domain.status, 422);
  EXPECT_EQ(no_domain.ErrorField(), "domain");
  HttpResult number = admin_->Post(
      "/api/v1/explain", R"({"domain": "api", "descriptor": {"a": 1}})");
  EXPECT_EQ(number.status, 422);
  EXPECT_EQ(number.ErrorField(), "descriptor.a");
  HttpResult extra = admin_->Post(
      "/api/v1/explain", R"({"domain": "api", "descriptor": {}, "x": 1})");
  EXPECT_EQ(extra.ErrorField(), "x");
}

TEST_F(ExplainTest, AViewerMayAsk) {
  auto viewer = Client(NewToken("explain-viewer", "viewer"));
  HttpResult result = viewer->Post(
      "/api/v1/explain", R"({"domain": "api", "descriptor": {"k": "v"}})");
  EXPECT_EQ(result.status, 200) << result.body;
}

}  // namespace
}  // namespace sluice
