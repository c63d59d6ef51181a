// End to end: a rule created over REST is enforced by an agent within a
// second; a change and a deletion reach it the same way. Real controller and
// agent processes, real PostgreSQL, real ZeroMQ, hiredis as the client.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/integration/stack.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;

// A minute-long period: no refill during the test, so counts are exact.
const char* kRule = R"({"name": "e2e-per-client", "domain": "api",
  "match": {"client_id": "*"}, "limit": 5, "period": "1m"})";

class EndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stack_.StartController();
    stack_.StartAgent();
  }
  Stack stack_;
};

TEST_F(EndToEndTest, NoRuleAdmitsEverything) {
  RedisClient client(stack_.socket_path());
  CheckReply r = client.Check({"RL.CHECK", "api", "1", "client_id", "42"});
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.allowed, 1);
  EXPECT_EQ(r.limit, -1);
  EXPECT_EQ(r.remaining, -1);
}

TEST_F(EndToEndTest, RuleCreatedChangedAndDeletedOverRestReachesTheAgent) {
  HttpResult created = stack_.Http("POST", "/api/v1/rules", kRule);
  ASSERT_EQ(created.status, 201) << created.body;
  int64_t id = nlohmann::json::parse(created.body).at("id").get<int64_t>();

  RedisClient client(stack_.socket_path());
  ASSERT_TRUE(client.connected());

  // Within a second the agent knows the rule (cost 0 peeks, takes nothing).
  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(Eventually(milliseconds(1000), [&] {
    return client.Check({"RL.CHECK", "api", "0", "client_id", "42"}).limit == 5;
  })) << stack_.agent().LogTail();
  auto took = std::chrono::duration_cast<milliseconds>(
      std::chrono::steady_clock::now() - started);
  std::cout << "rule reached the agent in " << took.count() << " ms\n";

  // It enforces: of 20 checks in a burst, exactly the limit are admitted,
  // and a refusal says when to retry.
  int allowed = 0;
  CheckReply last;
  for (int i = 0; i < 20; ++i) {
    last = client.Check({"RL.CHECK", "api", "1", "client_id", "42"});
    ASSERT_EQ(last.error, "");
    allowed += static_cast<int>(last.allowed);
  }
  EXPECT_EQ(allowed, 5);
  EXPECT_EQ(last.allowed, 0);
  EXPECT_EQ(last.limit, 5);
  EXPECT_GT(last.retry_after_ms, 0);

  // Another client has its own bucket.
  EXPECT_EQ(client.Check({"RL.CHECK", "api", "1", "client_id", "7"}).allowed,
            1);
  // Another domain is not limited.
  EXPECT_EQ(client.Check({"RL.CHECK", "web", "1", "client_id", "42"}).limit,
            -1);

  // A change reaches the agent within a second.
  nlohmann::json changed = nlohmann::json::parse(kRule);
  changed["limit"] = 1000;
  HttpResult updated =
      stack_.Http("PUT", "/api/v1/rules/" + std::to_string(id), changed.dump());
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(nlohmann::json::parse(updated.body).at("version").get<int64_t>(),
            2);
  ASSERT_TRUE(Eventually(milliseconds(1000), [&] {
    return client.Check({"RL.CHECK", "api", "0", "client_id", "99"}).limit ==
           1000;
  }));
  // A fresh client may now go well past the old limit of 5.
  int fresh_allowed = 0;
  for (int i = 0; i < 20; ++i) {
    fresh_allowed += static_cast<int>(
        client.Check({"RL.CHECK", "api", "1", "client_id", "100"}).allowed);
  }
  EXPECT_EQ(fresh_allowed, 20);

  // A deletion too: no rule matches any more.
  HttpResult deleted =
      stack_.Http("DELETE", "/api/v1/rules/" + std::to_string(id));
  ASSERT_EQ(deleted.status, 204) << deleted.body;
  ASSERT_TRUE(Eventually(milliseconds(1000), [&] {
    CheckReply r = client.Check({"RL.CHECK", "api", "1", "client_id", "42"});
    return r.allowed == 1 && r.limit == -1;
  }));
}

TEST_F(EndToEndTest, AgentStartedAfterTheRuleGetsItOnConnect) {
  // Restart the agent: the rule set comes in the snapshot on connect.
  HttpResult created = stack_.Http("POST", "/api/v1/rules", kRule);
  ASSERT_EQ(created.status, 201) << created.body;
  stack_.agent().Stop();
  stack_.StartAgent();
  RedisClient client(stack_.socket_path());
  ASSERT_TRUE(Eventually(milliseconds(1000), [&] {
    return client.Check({"RL.CHECK", "api", "0", "client_id", "1"}).limit == 5;
  })) << stack_.agent().LogTail();
}

}  // namespace
}  // namespace sluice::testing
