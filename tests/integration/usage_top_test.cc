// The heaviest clients end to end, through two real agents:
//   - 10,000 clients under a Zipf load (client k makes about C/k checks),
//     on a rule that refuses most of them: GET /api/v1/usage/top?
//     by=refused&limit=10 lists the true ten heaviest in order, each
//     refused count within error_bound of the truth, and error_bound is at
//     most 1 % of the total;
//   - by=allowed, on a rule that admits everything, under two skewed loads
//     (ten heavy clients and a Zipf tail of 2,000) in two consecutive
//     minutes whose heaviest clients differ: a window of
//     the second minute lists that minute's ten heaviest (nothing of the
//     first), the whole run lists the sums', and a window inside a minute
//     reads that whole minute (docs/analytics.md).
// Both stop their agents after the load: an agent's last report carries
// the summaries of the running minute, so the tests need not wait for it
// to end.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/stack.h"

namespace sluice::testing {
namespace {

using nlohmann::json;

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void SleepUntilWallMs(int64_t t_ms) {
  const int64_t now = WallMs();
  if (t_ms > now)
    std::this_thread::sleep_for(std::chrono::milliseconds(t_ms - now));
}

// The ten heaviest of `counts` (client -> checks), heaviest first, and the
// eleventh's count (0 when there is none).
std::vector<std::pair<int64_t, int>> Heaviest(
    const std::map<int, int64_t>& counts, int64_t* eleventh) {
  std::vector<std::pair<int64_t, int>> all;
  for (const auto& [client, n] : counts) all.push_back({n, client});
  std::sort(all.rbegin(), all.rend());
  *eleventh = all.size() > 10 ? all[10].first : 0;
  if (all.size() > 10) all.resize(10);
  return all;
}

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

  // Summaries travel once their minute has ended, or when their agent
  // stops: its last report carries the running minute's, with every
  // bucket's refusals since its last lease request.
  stack.agent(0).Stop();
  stack.agent(1).Stop();
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

// One minute's load (`sent`: the checks admitted per client), shuffled,
// alternating between the agents: ten heavy clients, named first_heavy + r (r =
// 0..9), make heavy_top - 100 r checks each; a Zipf tail of 2000 clients, named
// 11 to 2010 (in reverse when `reverse_tail`), makes ceil(100 / k) checks each
// (k = 1..2000), so that the summaries (256 clients) evict. The heavy
// clients are 100 checks apart, and the lightest is 100 above the tail's
// heaviest: well beyond the error bound.
void MinuteLoad(RedisClient& a, RedisClient& b, int first_heavy, int heavy_top,
                bool reverse_tail, int seed, std::map<int, int64_t>* sent) {
  std::vector<int> order;
  for (int r = 0; r < 10; ++r) {
    for (int i = 0; i < heavy_top - 100 * r; ++i)
      order.push_back(first_heavy + r);
  }
  for (int k = 1; k <= 2000; ++k) {
    const int name = reverse_tail ? 2011 - k : 10 + k;
    for (int i = 0; i < (100 + k - 1) / k; ++i) order.push_back(name);
  }
  std::mt19937 random(seed);
  std::shuffle(order.begin(), order.end(), random);
  for (size_t i = 0; i < order.size(); ++i) {
    CheckReply r = (i % 2 == 0 ? a : b)
                       .Check({"RL.CHECK", "y", "1", "client_id",
                               std::to_string(order[i])});
    ASSERT_TRUE(r.error.empty()) << r.error;
    if (r.allowed == 1) ++(*sent)[order[i]];
  }
}

// GET /usage/top by=allowed over [from, to) once its first client has
// reached `first_count` (everything reported), within 30 s.
json TopAllowed(Stack& stack, int64_t rule_id, int64_t from, int64_t to,
                int64_t first_count) {
  const std::string path = "/api/v1/usage/top?rule=" + std::to_string(rule_id) +
                           "&by=allowed&limit=10&from=" + std::to_string(from) +
                           "&to=" + std::to_string(to);
  json top;
  EXPECT_TRUE(Eventually(std::chrono::seconds(30),
                         [&] {
                           HttpResult got = stack.Http("GET", path);
                           top = json::parse(got.body, nullptr, false);
                           return got.status == 200 && top.is_object() &&
                                  top["clients"].size() == 10 &&
                                  top["clients"][0]["allowed"].get<int64_t>() >=
                                      first_count;
                         }))
      << path << ": " << top.dump();
  return top;
}

// `top` lists `truth` in order, each allowed count within error_bound above
// the truth; error_bound is at most 1 % of `total`.
void ExpectHeaviest(const json& top,
                    const std::vector<std::pair<int64_t, int>>& truth,
                    int64_t total, const std::string& what) {
  ASSERT_TRUE(top.is_object() && top["clients"].size() == 10)
      << what << ": " << top.dump();
  const int64_t bound = top["error_bound"].get<int64_t>();
  EXPECT_LE(bound * 100, total)
      << what << ": error_bound over 1 % of the total";
  for (size_t i = 0; i < 10; ++i) {
    const json& c = top["clients"][i];
    EXPECT_EQ(c["values"]["client_id"], std::to_string(truth[i].second))
        << what << ", rank " << i << ": " << top.dump();
    const int64_t count = c["allowed"].get<int64_t>();
    EXPECT_GE(count, truth[i].first) << what << ", rank " << i;
    EXPECT_LE(count - truth[i].first, bound) << what << ", rank " << i;
  }
}

int64_t SeriesAllowed(Stack& stack, int64_t rule_id, int64_t from, int64_t to) {
  HttpResult got =
      stack.Http("GET", "/api/v1/usage?rule=" + std::to_string(rule_id) +
                            "&step=1m&from=" + std::to_string(from) +
                            "&to=" + std::to_string(to));
  json series = json::parse(got.body, nullptr, false);
  EXPECT_EQ(got.status, 200) << got.body;
  int64_t allowed = 0;
  if (!series.is_object()) return -1;
  for (const json& p : series["points"]) allowed += p["allowed"].get<int64_t>();
  return allowed;
}

TEST(UsageTopTest, AllowedRankingOverAWindowOfWholeMinutes) {
  Stack stack;
  stack.StartController();
  const json rule = {{"name", "per-client-open"},
                     {"domain", "y"},
                     {"match", {{"client_id", "*"}}},
                     {"limit", 1000000},
                     {"period", "1s"},
                     {"burst", 1000000},
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
      return probe.Check({"RL.CHECK", "y", "0", "client_id", "p"}).limit ==
             1000000;
    }));
  }
  RedisClient a(stack.socket_path(0));
  RedisClient b(stack.socket_path(1));

  // Admitted tokens are booked to the minute their agent reports them (a
  // lease request, at the latest some 6 s after the last use): each load
  // ends at least 15 s before its minute does. The first load starts in
  // the current minute when there is time, else in the next.
  constexpr int64_t kMinute = 60'000;
  int64_t m1 = WallMs() / kMinute * kMinute;
  if (WallMs() - m1 > 40'000) {
    m1 += kMinute;
    SleepUntilWallMs(m1 + 200);
  }
  std::map<int, int64_t> first, second;
  MinuteLoad(a, b, /*first_heavy=*/1, /*heavy_top=*/1100,
             /*reverse_tail=*/false, 11, &first);
  ASSERT_LT(WallMs(), m1 + 45'000) << "the first load overran its minute";
  const int64_t m2 = m1 + kMinute;
  SleepUntilWallMs(m2 + 200);
  // Other heavy clients, 50 checks above the first minute's.
  MinuteLoad(a, b, /*first_heavy=*/3001, /*heavy_top=*/1150,
             /*reverse_tail=*/true, 12, &second);
  ASSERT_LT(WallMs(), m2 + 45'000) << "the second load overran its minute";
  const int64_t m3 = m2 + kMinute;
  // Summaries travel once their minute has ended, or when their agent
  // stops (its last report carries the running minute's).
  stack.agent(0).Stop();
  stack.agent(1).Stop();
  ASSERT_LT(WallMs(), m3) << "the agents stopped after the second minute";

  std::map<int, int64_t> both = first;
  int64_t total_first = 0, total_second = 0;
  for (const auto& [client, n] : first) total_first += n;
  for (const auto& [client, n] : second) {
    both[client] += n;
    total_second += n;
  }
  int64_t eleventh = 0;
  const auto truth_second = Heaviest(second, &eleventh);
  ASSERT_GT(truth_second[9].first, eleventh);  // a clear top ten
  const auto truth_both = Heaviest(both, &eleventh);
  ASSERT_GT(truth_both[9].first, eleventh);

  // The second minute alone: none of the first's counts.
  json top = TopAllowed(stack, rule_id, m2, m3, truth_second[0].first);
  ExpectHeaviest(top, truth_second, total_second, "second minute");
  EXPECT_LE(top["clients"][0]["allowed"].get<int64_t>() - truth_second[0].first,
            top["error_bound"].get<int64_t>());
  // A window inside the second minute reads that whole minute.
  json inside = TopAllowed(stack, rule_id, m2 + 20'000, m2 + 40'000,
                           truth_second[0].first);
  EXPECT_EQ(inside["clients"], top["clients"]);
  // The whole run: the sums.
  top = TopAllowed(stack, rule_id, m1, m3, truth_both[0].first);
  ExpectHeaviest(top, truth_both, total_first + total_second, "whole run");
  // The exact counts agree, minute by minute.
  EXPECT_EQ(SeriesAllowed(stack, rule_id, m1, m2), total_first);
  EXPECT_EQ(SeriesAllowed(stack, rule_id, m2, m3), total_second);
  ::testing::Test::RecordProperty(
      "error_bound_whole_run",
      std::to_string(top["error_bound"].get<int64_t>()));
}

}  // namespace
}  // namespace sluice::testing
