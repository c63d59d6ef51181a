// Usage analytics end to end: real agents count the decisions their
// clients saw and report them; GET /api/v1/usage sums to exactly that,
// within 5 seconds, across several agents and rules (exact and wildcard,
// enforce and shadow), and across a controller killed and restarted while
// checks go on.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/stack.h"

namespace sluice::testing {
namespace {

using nlohmann::json;

struct Truth {
  int64_t allowed = 0;
  int64_t refused = 0;
  int64_t shadow_refused = 0;
  int64_t checks = 0;
};

json Rule(const std::string& name, const std::string& domain, const json& match,
          int64_t limit, const std::string& period, const std::string& mode) {
  return json{{"name", name},   {"domain", domain},        {"match", match},
              {"limit", limit}, {"period", period},        {"burst", limit},
              {"mode", mode},   {"failure_mode", "local"}, {"enabled", true}};
}

class UsageTest : public ::testing::Test {
 protected:
  int64_t Create(const json& rule) {
    HttpResult created = stack_.Http("POST", "/api/v1/rules", rule.dump());
    EXPECT_EQ(created.status, 201) << created.body;
    json body = json::parse(created.body, nullptr, false);
    return body.is_object() ? body.value("id", int64_t{0}) : 0;
  }

  // The sums of GET /api/v1/usage for `rule` over the last hour.
  Truth Reported(int64_t rule) {
    HttpResult got =
        stack_.Http("GET", "/api/v1/usage?rule=" + std::to_string(rule));
    Truth sums;
    json body = json::parse(got.body, nullptr, false);
    if (got.status != 200 || !body.is_object()) return sums;
    for (const json& point : body["points"]) {
      sums.allowed += point["allowed"].get<int64_t>();
      sums.refused += point["refused"].get<int64_t>();
      sums.shadow_refused += point["shadow_refused"].get<int64_t>();
    }
    return sums;
  }

  // `n` checks per client on agent `agent` in `domain` with key `key`,
  // counted into *truth as the client saw them.
  void Checks(size_t agent, const std::string& domain, const std::string& key,
              int clients, int n, Truth* truth) {
    RedisClient client(stack_.socket_path(agent));
    ASSERT_TRUE(client.connected());
    for (int i = 0; i < n; ++i) {
      for (int c = 0; c < clients; ++c) {
        CheckReply r = client.Check(
            {"RL.CHECK", domain, "1", key, "v" + std::to_string(c)});
        ASSERT_TRUE(r.error.empty()) << r.error;
        ++truth->checks;
        (r.allowed == 1 ? truth->allowed : truth->refused) += 1;
      }
    }
  }

  // Waits until agent `agent` holds the rule of `domain` (a cost-0 check,
  // which counts nothing, reports the rule's limit): checks made before an
  // agent has its rules match none and count nowhere.
  void WaitForRules(size_t agent, const std::string& domain,
                    const std::string& key, int64_t limit) {
    RedisClient client(stack_.socket_path(agent));
    ASSERT_TRUE(Eventually(
        std::chrono::seconds(10),
        [&] {
          return client.Check({"RL.CHECK", domain, "0", key, "probe"}).limit ==
                 limit;
        }))
        << "agent " << agent << " never got the rules of " << domain;
  }

  Stack stack_;
};

bool Matches(const Truth& got, const Truth& want) {
  return got.allowed == want.allowed && got.refused == want.refused &&
         got.shadow_refused == want.shadow_refused;
}

TEST_F(UsageTest, TotalsThroughThreeAgentsAreExactWithinFiveSeconds) {
  stack_.StartController();
  const int64_t wildcard = Create(
      Rule("per-client", "ua", {{"client_id", "*"}}, 20, "1m", "enforce"));
  const int64_t exact =
      Create(Rule("login", "ub", {{"route", "/login"}}, 50, "1m", "enforce"));
  const int64_t shadow = Create(
      Rule("shadow-per-client", "uc", {{"client_id", "*"}}, 5, "1m", "shadow"));
  for (size_t i = 0; i < 3; ++i) {
    stack_.StartAgent(i);
    WaitForRules(i, "ua", "client_id", 20);
  }

  Truth a, b, c;
  for (size_t agent = 0; agent < 3; ++agent) {
    Checks(agent, "ua", "client_id", 5, 12, &a);
    Checks(agent, "ub", "route", 1, 30, &b);  // value "v0": not /login
    Checks(agent, "uc", "client_id", 4, 10, &c);
  }
  // "ub" checks carry route=v0, which the exact rule does not match: they
  // count nowhere. Send matching ones too.
  Truth b_none = b;
  b = Truth{};
  for (size_t agent = 0; agent < 3; ++agent) {
    RedisClient client(stack_.socket_path(agent));
    for (int i = 0; i < 30; ++i) {
      CheckReply r = client.Check({"RL.CHECK", "ub", "1", "route", "/login"});
      ++b.checks;
      (r.allowed == 1 ? b.allowed : b.refused) += 1;
    }
  }
  EXPECT_EQ(b_none.refused, 0);  // no rule: always admitted
  EXPECT_GT(a.refused, 0);       // the test exercises refusals
  EXPECT_GT(b.refused, 0);
  // A shadow rule never refuses a client; it counts what it would have.
  EXPECT_EQ(c.refused, 0);
  const auto last_check = std::chrono::steady_clock::now();

  Truth shadow_want;
  bool all = Eventually(std::chrono::seconds(5), [&] {
    const Truth got = Reported(shadow);
    shadow_want = got;
    return Matches(Reported(wildcard), a) && Matches(Reported(exact), b) &&
           got.refused == 0 && got.allowed + got.shadow_refused == c.checks &&
           got.shadow_refused > 0;
  });
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - last_check);
  EXPECT_TRUE(all) << "after " << waited.count() << " ms: wildcard "
                   << Reported(wildcard).allowed << "/"
                   << Reported(wildcard).refused << " want " << a.allowed << "/"
                   << a.refused << "; exact " << Reported(exact).allowed << "/"
                   << Reported(exact).refused << " want " << b.allowed << "/"
                   << b.refused << "; shadow " << shadow_want.allowed << "+"
                   << shadow_want.shadow_refused << " want " << c.checks;
  // Nothing is counted twice later either.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_TRUE(Matches(Reported(wildcard), a));
  EXPECT_TRUE(Matches(Reported(exact), b));
  // The sum over every rule holds all three.
  HttpResult total = stack_.Http("GET", "/api/v1/usage");
  json body = json::parse(total.body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << total.body;
  int64_t checks = 0;
  for (const json& point : body["points"]) {
    checks += point["allowed"].get<int64_t>() +
              point["refused"].get<int64_t>() +
              point["shadow_refused"].get<int64_t>();
  }
  EXPECT_EQ(checks, a.checks + b.checks + c.checks);
  // The fleet-wide metric agrees.
  HttpResult agents = stack_.Http("GET", "/api/v1/agents");
  json list = json::parse(agents.body, nullptr, false);
  ASSERT_TRUE(list.is_object()) << agents.body;
  EXPECT_EQ(list["agents"].size(), 3u) << agents.body;
}

TEST_F(UsageTest, NothingIsLostOrCountedTwiceAcrossAControllerRestart) {
  stack_.StartController();
  const int64_t rule = Create(
      Rule("per-client", "ua", {{"client_id", "*"}}, 30, "1m", "enforce"));
  stack_.StartAgent(0);
  WaitForRules(0, "ua", "client_id", 30);
  Truth truth;
  Checks(0, "ua", "client_id", 4, 20, &truth);
  ASSERT_TRUE(Eventually(std::chrono::seconds(5),
                         [&] { return Matches(Reported(rule), truth); }));

  stack_.controller().Kill();
  Checks(0, "ua", "client_id", 4, 20, &truth);  // counted, not acknowledged
  stack_.RestartController();
  Checks(0, "ua", "client_id", 4, 5, &truth);
  // Unacknowledged reports are sent again every 5 s.
  EXPECT_TRUE(Eventually(std::chrono::seconds(20),
                         [&] { return Matches(Reported(rule), truth); }))
      << Reported(rule).allowed << "/" << Reported(rule).refused << " want "
      << truth.allowed << "/" << truth.refused;
  std::this_thread::sleep_for(std::chrono::seconds(6));  // a resend round
  EXPECT_TRUE(Matches(Reported(rule), truth));
}

}  // namespace
}  // namespace sluice::testing
