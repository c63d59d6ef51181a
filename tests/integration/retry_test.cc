// The retry promise (docs/leasing.md, "Retry after"), on real processes: a
// real controller on PostgreSQL, real agents, hiredis clients.
//   - One agent: a client refused after a burst that waits a full refill
//     (1.1 s) is admitted, from the safe share, even though the lease it
//     got during the burst is still valid and spent.
//   - Three agents, ten clients that always wait exactly the retry_after
//     they were given: most retries are admitted (the refusals' retry
//     times are spread over the refill, not herded), and every 1 s window
//     stays within burst + rate (+ 5 %). Retries are counted after a
//     warm-up (the cold start spends the burst: see kWarmupSeconds).
// Windows are counted from the times the clients record right after each
// admitted reply, so a slow test loop cannot fake them. Bounded: a few
// seconds per run (the three-agent test runs at most three).
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

std::vector<std::string> CheckArgs() {
  return {"RL.CHECK", "retry", "1", "route", "/retry"};
}

// Starts the controller and `agents` agents on `stack`, creates the rule
// (route /retry: `limit` per second, burst `limit`) and waits until every
// agent knows it and knows how many agents there are (their safe shares
// are burst / agents from then on).
void StartStack(Stack* stack, size_t agents, int64_t limit) {
  stack->StartController();
  for (size_t i = 0; i < agents; ++i) stack->StartAgent(i);
  nlohmann::json rule = {
      {"name", "retry"}, {"domain", "retry"}, {"match", {{"route", "/retry"}}},
      {"limit", limit},  {"period", "1s"},    {"burst", limit}};
  HttpResult created = stack->Http("POST", "/api/v1/rules", rule.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  for (size_t i = 0; i < agents; ++i) {
    RedisClient client(stack->socket_path(i));
    ASSERT_TRUE(Eventually(milliseconds(5000), [&] {
      if (client.Check({"RL.CHECK", "retry", "0", "route", "/retry"}).limit !=
          limit) {
        return false;
      }
      auto reply = client.Command({"RL.INFO"});
      return reply && reply->type == REDIS_REPLY_STRING &&
             std::string(reply->str, reply->len)
                     .find("agents:" + std::to_string(agents) + "\r\n") !=
                 std::string::npos;
    })) << stack->agent(i).LogTail();
  }
}

TEST(RetryTest, OneAgentAdmitsAfterAFullRefill) {
  Stack stack;
  StartStack(&stack, 1, 10);
  RedisClient client(stack.socket_path(0));
  for (int trial = 0; trial < 3; ++trial) {
    // A full bucket again (the last trial's check took a token).
    if (trial > 0) std::this_thread::sleep_for(milliseconds(1100));
    int admitted = 0;
    CheckReply last;
    for (int i = 0; i < 15; ++i) {
      const CheckReply reply = client.Check(CheckArgs());
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
    const CheckReply after = client.Check(CheckArgs());
    EXPECT_EQ(after.allowed, 1)
        << "trial " << trial << ": refused with retry_after "
        << after.retry_after_ms << " ms after a full refill";
  }
}

struct ClientStats {
  int64_t retries = 0, retries_refused = 0, errors = 0;
  std::vector<double> admitted_at;
};

// Retries are counted from this long after the start: the cold start
// admits the whole burst at once from the agents' safe shares, which the
// controller charges to the budget, and the clients refused meanwhile all
// queue up; it takes about burst / rate to settle.
constexpr double kWarmupSeconds = 1.5;

// A client that checks again at once after an admission and, after a
// refusal, waits exactly the retry_after it was given (a retry).
void RunClient(const std::string& socket, Steady::time_point origin,
               Steady::time_point until, ClientStats* stats) {
  RedisClient client(socket);
  bool retrying = false;
  while (Steady::now() < until) {
    const CheckReply reply = client.Check(CheckArgs());
    const double t =
        std::chrono::duration<double>(Steady::now() - origin).count();
    if (!reply.error.empty()) {
      ++stats->errors;
      return;
    }
    const bool counted = retrying && t >= kWarmupSeconds;
    if (counted) ++stats->retries;
    if (reply.allowed == 1) {
      stats->admitted_at.push_back(t);
      retrying = false;
      continue;
    }
    if (counted) ++stats->retries_refused;
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

struct RetryRun {
  int64_t retries = 0, refused = 0, errors = 0, admitted = 0, max_window = 0;
  double refused_share() const {
    return retries == 0
               ? 1.0
               : static_cast<double>(refused) / static_cast<double>(retries);
  }
};

// One run on a fresh stack of `agents` agents: `clients` clients for
// `seconds`, spread over the agents.
RetryRun RunRetryClients(size_t agents, int clients, int64_t limit,
                         double seconds) {
  RetryRun run;
  const Steady::time_point started = Steady::now();
  Stack stack;
  StartStack(&stack, agents, limit);
  if (::testing::Test::HasFatalFailure()) return run;
  // After the controller's learning period (its lease ttl, 2 s by default:
  // budgets start empty), so that the cold start below is the steady
  // system's, not a restart's.
  std::this_thread::sleep_until(started + milliseconds(2200));
  const Steady::time_point origin = Steady::now();
  const Steady::time_point until =
      origin + std::chrono::duration_cast<Steady::duration>(
                   std::chrono::duration<double>(seconds));
  std::vector<ClientStats> stats(clients);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back(RunClient, stack.socket_path(c % agents), origin,
                         until, &stats[c]);
  }
  for (std::thread& t : threads) t.join();
  std::vector<double> admitted_at;
  for (const ClientStats& s : stats) {
    run.retries += s.retries;
    run.refused += s.retries_refused;
    run.errors += s.errors;
    admitted_at.insert(admitted_at.end(), s.admitted_at.begin(),
                       s.admitted_at.end());
  }
  run.admitted = static_cast<int64_t>(admitted_at.size());
  run.max_window = MaxWindow(admitted_at, 1.0);
  std::printf(
      "%d clients on %zu agents, limit %lld/s burst %lld, %.0f s: %lld "
      "admitted (%.1f/s); from %.1f s: %lld retries, %lld refused (%.1f %%); "
      "max 1 s window %lld\n",
      clients, agents, static_cast<long long>(limit),
      static_cast<long long>(limit), seconds,
      static_cast<long long>(run.admitted),
      static_cast<double>(run.admitted) / seconds, kWarmupSeconds,
      static_cast<long long>(run.retries), static_cast<long long>(run.refused),
      100.0 * run.refused_share(), static_cast<long long>(run.max_window));
  return run;
}

// Hard: every check answered, the limit held in every 1 s window (burst +
// rate, + 5 %), and at most kGoalRefused of the retries refused in the best
// of three runs (each on a fresh stack; a loaded machine may spoil one).
// Measured side by side on a quiet machine: 0.0 % in 11 runs of 11; an
// agent whose safe share is not drained by what its leases admit
// (docs/leasing.md) gave 6 % to 48 % (median 17 %, 9 runs).
constexpr double kGoalRefused = 0.20;
TEST(RetryTest, ClientsHonouringRetryAfterMostlyGetThroughOnThreeAgents) {
  constexpr int kAttempts = 3;
  constexpr int64_t kLimit = 20;  // per second, burst 20
  double best = 1.0;
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    const RetryRun run = RunRetryClients(3, 10, kLimit, 5.0);
    if (::testing::Test::HasFatalFailure()) return;
    EXPECT_EQ(run.errors, 0);
    EXPECT_GT(run.retries, 20);
    EXPECT_LE(static_cast<double>(run.max_window), 2.0 * kLimit * 1.05);
    best = std::min(best, run.refused_share());
    if (best <= kGoalRefused) break;
  }
  EXPECT_LE(best, kGoalRefused)
      << "share of retries refused, best of " << kAttempts << " runs";
}

}  // namespace
}  // namespace sluice::testing
