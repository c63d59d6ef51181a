// The heaviest clients end to end: 10,000 clients under a Zipf load
// (client k makes about C/k checks) through two real agents, on a rule
// that refuses most of them; GET /api/v1/usage/top?by=refused&limit=10
// lists the true ten heaviest in order, each refused count within
// error_bound of the truth, and error_bound is at most 1 % of the total.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "tests/integration/stack.h"

namespace sluice::testing {
namespace {

using nlohmann::json;

TEST(UsageTopTest, TheTrueTenHeaviestOfAZipfLoadInOrder) {
  Stack stack;
  stack.StartController();
  const json rule = {{"name", "per-client"},
                     {"domain", "z"},
                     {"match", {{"client_id", "*"}}},
                     {"limit", 3},
                     {"period", "1h"},
                     {"burst", 3},
                     {"mode", "enforce"},
                     {"failure_mode", "local"},
                     {"enabled", true}};
  HttpResult created = stack.Http("POST", "/api/v1/rules", rule.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  const int64_t rule_id = json::parse(created.body)["id"].get<int64_t>();
  stack.StartAgent(0);
  stack.StartAgent(1);
  for (size_t agent = 0; agent < 2; ++agent) {
    RedisClient probe(stack.socket_path(agent));
    ASSERT_TRUE(Eventually(std::chrono::seconds(10), [&] {
      return probe.Check({"RL.CHECK", "z", "0", "client_id", "p"}).limit == 3;
    }));
  }

  // Client k (1..10000) makes ceil(3000 / k) checks, in a shuffled order,
  // alternating between the agents.
  constexpr int kClients = 10000;
  std::vector<int> order;
  for (int k = 1; k <= kClients; ++k) {
    for (int i = 0; i < (3000 + k - 1) / k; ++i) order.push_back(k);
  }
  std::mt19937 random(7);
  std::shuffle(order.begin(), order.end(), random);
  RedisClient a(stack.socket_path(0));
  RedisClient b(stack.socket_path(1));
  std::map<int, int64_t> refused;
  int64_t total_refused = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    CheckReply r = (i % 2 == 0 ? a : b)
                       .Check({"RL.CHECK", "z", "1", "client_id",
                               std::to_string(order[i])});
    ASSERT_TRUE(r.error.empty()) << r.error;
    if (r.allowed == 0) {
      ++refused[order[i]];
      ++total_refused;
    }
  }
  std::vector<std::pair<int64_t, int>> truth;
  for (const auto& [client, n] : refused) truth.push_back({n, client});
  std::sort(truth.rbegin(), truth.rend());
  ASSERT_GE(truth.size(), 11u);
  ASSERT_GT(truth[9].first, truth[10].first);  // a clear top ten

  // Summaries travel once their minute has ended.
  json top;
  const std::string path = "/api/v1/usage/top?rule=" + std::to_string(rule_id) +
                           "&by=refused&limit=10";
  ASSERT_TRUE(Eventually(std::chrono::seconds(90), [&] {
    HttpResult got = stack.Http("GET", path);
    top = json::parse(got.body, nullptr, false);
    if (got.status != 200 || !top.is_object()) return false;
    int64_t listed = 0;
    for (const json& c : top["clients"]) listed += c["refused"].get<int64_t>();
    return top["clients"].size() == 10 && listed >= truth[0].first;
  })) << top.dump();
  // Everything reported: the refusals of the last minute came in too.
  ASSERT_TRUE(Eventually(std::chrono::seconds(90), [&] {
    HttpResult got = stack.Http("GET", path);
    top = json::parse(got.body, nullptr, false);
    return top.is_object() &&
           top["clients"][0]["refused"].get<int64_t>() >= truth[0].first;
  })) << top.dump();
  const int64_t bound = top["error_bound"].get<int64_t>();
  ::testing::Test::RecordProperty("error_bound", std::to_string(bound));
  ::testing::Test::RecordProperty("total_refused",
                                  std::to_string(total_refused));
  EXPECT_LE(bound * 100, total_refused) << "error_bound over 1 % of the total";
  for (size_t i = 0; i < 10; ++i) {
    const json& c = top["clients"][i];
    EXPECT_EQ(c["values"]["client_id"], std::to_string(truth[i].second))
        << "rank " << i << ": " << top.dump();
    const int64_t count = c["refused"].get<int64_t>();
    EXPECT_GE(count, truth[i].first) << "rank " << i;
    EXPECT_LE(count - truth[i].first, bound) << "rank " << i;
  }
}

}  // namespace
}  // namespace sluice::testing
