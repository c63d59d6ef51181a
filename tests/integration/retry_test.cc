// The retry promise (docs/leasing.md, "Retry after"), on real processes: a
// real controller on PostgreSQL, real agents, hiredis clients.
//   - One agent: a client refused after a burst that waits a full refill
//     (1.1 s) is admitted, from the safe share, even though the lease it
//     got during the burst is still valid and spent.
//   - Three agents, ten clients that always wait exactly the retry_after
//     they were given: most retries are admitted (the refusals' retry
//     times are spread over the refill, not herded), and every 1 s window
//     stays within burst + rate (+ 5 %).
// Windows are counted from the times the clients record right after each
// admitted reply, so a slow test loop cannot fake them. Bounded: a few
// seconds each.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/stack.h"

namespace sluice::testing {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

class RetryTest : public ::testing::Test {
 protected:
  void StartStack(size_t agents) {
    stack_.StartController();
    for (size_t i = 0; i < agents; ++i) stack_.StartAgent(i);
  }

  // A rule on route /retry: `limit` per second, burst `limit`.
  void CreateRule(int64_t limit, size_t agents) {
    nlohmann::json rule = {{"name", "retry"},
                           {"domain", "retry"},
                           {"match", {{"route", "/retry"}}},
                           {"limit", limit},
                           {"period", "1s"},
                           {"burst", limit}};
    HttpResult created = stack_.Http("POST", "/api/v1/rules", rule.dump());
    ASSERT_EQ(created.status, 201) << created.body;
    for (size_t i = 0; i < agents; ++i) {
      RedisClient client(stack_.socket_path(i));
      ASSERT_TRUE(Eventually(milliseconds(5000), [&] {
        return client.Check({"RL.CHECK", "retry", "0", "route", "/retry"})
                   .limit == limit;
      })) << stack_.agent(i).LogTail();
    }
  }

  // Waits until every agent hears that `agents` agents are connected (their
  // safe shares are burst / agents from then on).
  void AwaitAgents(size_t agents) {
    for (size_t i = 0; i < agents; ++i) {
      RedisClient client(stack_.socket_path(i));
      ASSERT_TRUE(Eventually(milliseconds(5000), [&] {
        auto reply = client.Command({"RL.INFO"});
        return reply && reply->type == REDIS_REPLY_STRING &&
               std::string(reply->str, reply->len)
                       .find("agents:" + std::to_string(agents) + "\r\n") !=
                   std::string::npos;
      })) << stack_.agent(i).LogTail();
    }
  }

  static std::vector<std::string> Check() {
    return {"RL.CHECK", "retry", "1", "route", "/retry"};
  }

  Stack stack_;
};

TEST_F(RetryTest, OneAgentAdmitsAfterAFullRefill) {
  StartStack(1);
  CreateRule(10, 1);
  RedisClient client(stack_.socket_path(0));
  for (int trial = 0; trial < 3; ++trial) {
    int admitted = 0;
    CheckReply last;
    for (int i = 0; i < 15; ++i) {
      const CheckReply reply = client.Check(Check());
      ASSERT_TRUE(reply.error.empty()) << reply.error;
      if (reply.allowed == 1) {
        ++admitted;
      } else {
        EXPECT_GT(reply.retry_after_ms, 0);
        last = reply;
      }
    }
    // The burst, and not much more (a few tokens refill meanwhile).
    EXPECT_GE(admitted, 10) << "trial " << trial;
    EXPECT_LE(admitted, 12) << "trial " << trial;
    ASSERT_EQ(last.allowed, 0) << "trial " << trial;
    std::this_thread::sleep_for(milliseconds(1100));
    const CheckReply after = client.Check(Check());
    EXPECT_EQ(after.allowed, 1)
        << "trial " << trial << ": refused with retry_after "
        << after.retry_after_ms << " ms after a full refill";
  }
}

struct Admission {
  double t;  // seconds since the origin, right after the reply
};

struct ClientStats {
  int64_t retries = 0, retries_refused = 0, errors = 0;
  std::vector<double> admitted_at;
};

// A client that checks again at once after an admission and, after a
// refusal, waits exactly the retry_after it was given (a retry).
void RunClient(const std::string& socket, Steady::time_point origin,
               Steady::time_point until, ClientStats* stats) {
  RedisClient client(socket);
  bool retrying = false;
  while (Steady::now() < until) {
    const CheckReply reply = client.Check(RetryTest::Check());
    const double t =
        std::chrono::duration<double>(Steady::now() - origin).count();
    if (!reply.error.empty()) {
      ++stats->errors;
      return;
    }
    if (retrying) ++stats->retries;
    if (reply.allowed == 1) {
      stats->admitted_at.push_back(t);
      retrying = false;
      continue;
    }
    if (retrying) ++stats->retries_refused;
    retrying = true;
    std::this_thread::sleep_for(milliseconds(reply.retry_after_ms));
  }
}

// The most admitted in any window [t, t + width).
int64_t MaxWindow(std::vector<double> times, double width) {
  std::sort(times.begin(), times.end());
  int64_t best = 0;
  size_t j = 0;
  for (size_t i = 0; i < times.size(); ++i) {
    while (j < times.size() && times[j] < times[i] + width) ++j;
    best = std::max(best, static_cast<int64_t>(j - i));
  }
  return best;
}

TEST_F(RetryTest, ClientsHonouringRetryAfterMostlyGetThroughOnThreeAgents) {
  constexpr size_t kAgents = 3;
  constexpr int kClients = 10;
  constexpr int64_t kLimit = 20;  // per second, burst 20
  constexpr double kSeconds = 4.0;
  StartStack(kAgents);
  CreateRule(kLimit, kAgents);
  AwaitAgents(kAgents);
  const Steady::time_point origin = Steady::now();
  const Steady::time_point until =
      origin + std::chrono::duration_cast<Steady::duration>(
                   std::chrono::duration<double>(kSeconds));
  std::vector<ClientStats> stats(kClients);
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back(RunClient, stack_.socket_path(c % kAgents), origin,
                         until, &stats[c]);
  }
  for (std::thread& t : threads) t.join();
  ClientStats all;
  for (const ClientStats& s : stats) {
    all.retries += s.retries;
    all.retries_refused += s.retries_refused;
    all.errors += s.errors;
    all.admitted_at.insert(all.admitted_at.end(), s.admitted_at.begin(),
                           s.admitted_at.end());
  }
  const int64_t max_window = MaxWindow(all.admitted_at, 1.0);
  const double refused_share =
      all.retries == 0 ? 1.0
                       : static_cast<double>(all.retries_refused) /
                             static_cast<double>(all.retries);
  std::printf(
      "%d clients on %zu agents, limit %lld/s burst %lld, %.0f s: %zu "
      "admitted (%.1f/s), %lld retries, %lld refused (%.1f %%), max 1 s "
      "window %lld\n",
      kClients, kAgents, static_cast<long long>(kLimit),
      static_cast<long long>(kLimit), kSeconds, all.admitted_at.size(),
      static_cast<double>(all.admitted_at.size()) / kSeconds,
      static_cast<long long>(all.retries),
      static_cast<long long>(all.retries_refused), 100.0 * refused_share,
      static_cast<long long>(max_window));
  EXPECT_EQ(all.errors, 0);
  EXPECT_GT(all.retries, 20);
  EXPECT_LE(refused_share, 0.20);
  // The limit holds: every 1 s window within burst + rate, + 5 %.
  EXPECT_LE(static_cast<double>(max_window), 2.0 * kLimit * 1.05);
}

}  // namespace
}  // namespace sluice::testing
