// A Controller in-process on a fresh database and free ports, with an
// admin HTTP client, for tests of the REST API end to end (real HTTP, real
// PostgreSQL).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "controller/controller.h"
#include "tests/controller/http_test_client.h"
#include "tests/support/free_port.h"
#include "tests/support/test_database.h"

namespace sluice::testing {

inline const nlohmann::json& SampleRule() {
  static const nlohmann::json kRule = {
      {"name", "search-per-client"},
      {"domain", "api"},
      {"match", {{"route", "/search"}, {"client_id", "*"}}},
      {"limit", 100},
      {"period", "1s"},
      {"burst", 200},
      {"mode", "enforce"},
      {"failure_mode", "local"},
      {"enabled", true}};
  return kRule;
}

inline nlohmann::json RuleNamed(const std::string& name, int64_t limit = 100) {
  nlohmann::json rule = SampleRule();
  rule["name"] = name;
  rule["limit"] = limit;
  rule["burst"] = limit;
  return rule;
}

class ApiTest : public ::testing::Test {
 protected:
  static constexpr char kAdminToken[] = "api-test-admin-token";

  void SetUp() override {
    test_db_ = std::make_unique<TestDatabase>();
    StartController(ControllerOptions());
  }
  void TearDown() override {
    admin_.reset();
    if (controller_ != nullptr) controller_->Stop();
    controller_.reset();
    test_db_.reset();
  }

  // Starts the controller with `options` completed by the test's database,
  // free ports and the admin token.
  void StartController(ControllerOptions options) {
    options.db = test_db_->conninfo();
    options.http = "127.0.0.1:" + std::to_string(PickFreePort());
    options.agents = "tcp://127.0.0.1:" + std::to_string(PickFreePort());
    options.admin_token = kAdminToken;
    options.token_out = &token_out_;
    options.catalog_sync_ms = 200;
    options.db_retry_ms = 100;
    options_ = options;
    controller_ = std::make_unique<Controller>(options);
    Status started = controller_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    Status ready = controller_->WaitUntilReady(10000);
    ASSERT_TRUE(ready.ok()) << ready.ToString();
    admin_ = Client(kAdminToken);
  }

  std::string BaseUrl() const {
    return (options_.tls_cert.empty() ? "http://" : "https://") + options_.http;
  }
  std::unique_ptr<HttpTestClient> Client(const std::string& token) {
    auto client = std::make_unique<HttpTestClient>(BaseUrl());
    client->set_token(token);
    return client;
  }

  // Creates a token with `role` through the API; returns its secret.
  std::string NewToken(const std::string& name, const std::string& role) {
    HttpResult created =
        admin_->Post("/api/v1/tokens",
                     nlohmann::json{{"name", name}, {"role", role}}.dump());
    EXPECT_EQ(created.status, 201) << created.body;
    return created.json.value("token", "");
  }

  // POSTs `rule` as the admin and expects 201.
  nlohmann::json Create(const nlohmann::json& rule) {
    HttpResult created = admin_->Post("/api/v1/rules", rule.dump());
    EXPECT_EQ(created.status, 201) << created.body;
    return created.json;
  }

  // Runs `sql` in the test database; returns the first column of the
  // first row as text ("" when there is none).
  std::string Sql(const std::string& sql) { return test_db_->Sql(sql); }
  int64_t Count(const std::string& sql) { return std::stoll(Sql(sql)); }

  std::ostringstream token_out_;
  std::unique_ptr<TestDatabase> test_db_;
  ControllerOptions options_;
  std::unique_ptr<Controller> controller_;
  std::unique_ptr<HttpTestClient> admin_;
};

}  // namespace sluice::testing
