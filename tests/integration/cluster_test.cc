// Several controllers on one PostgreSQL (docs/high-availability.md), end to
// end: three real sluice-controllers, four real sluice-agents each given
// all three, and paced hiredis clients asking four tenants of one rule
// (200/s, burst 200 per tenant) at 1.5 times the limit, spread over the
// agents (ClusterLoad). Each test is one scenario:
//   - steady state, then one controller killed (SIGKILL) under load;
//   - a rolling restart of all three, one at a time;
//   - a fourth controller added, which agents given only the first three
//     learn from the controller set;
//   - PostgreSQL away for 20 s (cluster_outage_test.cc);
//   - concurrent If-Match writes through two controllers
//     (cluster_outage_test.cc).
// In each, a rule is changed through every live controller in turn, and
// each change must reach every agent (RuleProber).
//
// Hard expectations (fail at once): every check answered; no tenant
// admitted more than (burst + rate) * 1.05 in any 1 s window; every change
// accepted by a controller reached every agent. Soft ones (an attempt that
// misses one runs again on a fresh stack, kAttempts in all): 95 % of the
// limit used in steady state and from 3 s after each disturbance; p99 of
// the check's round trip under 5 ms (ClusterLoad::ExpectFast); each rule
// change within 1 s.
#include <gtest/gtest.h>

#include <csignal>
#include <nlohmann/json.hpp>

#include "tests/integration/cluster_load.h"

namespace sluice::testing {
namespace {

// Three: on two shared cores (a Debug build) a run of seven daemons and
// sixteen clients can miss a soft expectation now and then (when the p99
// bound was 1 ms: 1.001 and 1.070 ms in one rolling restart run, where
// others gave 0.55-0.67 ms); a further attempt runs only then.
constexpr int kAttempts = 3;

class SeveralControllersTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { std::signal(SIGPIPE, SIG_IGN); }
};

// The controller keeping the most budgets (the one whose death moves the
// most tenants).
size_t Busiest(ClusterStack* stack, const std::vector<size_t>& among) {
  size_t best = among.front();
  int64_t most = -1;
  for (size_t c : among) {
    const auto ready = nlohmann::json::parse(
        stack->Http(c, "GET", "/readyz").body, nullptr, false);
    const int64_t buckets = ready.is_object() && ready.contains("cluster")
                                ? ready["cluster"].value("buckets", 0)
                                : 0;
    if (buckets > most) {
      most = buckets;
      best = c;
    }
  }
  return best;
}

TEST_F(SeveralControllersTest, SteadyStateThenAControllerKilledUnderLoad) {
  Retried(kAttempts, [&](int) -> Misses {
    ClusterLoad load;
    if (HasFailure()) return {};
    load.Start();
    SleepUntil(load.origin(), 6.0);
    const size_t victim = Busiest(&load.stack(), {0, 1, 2});
    load.prober().SetLive(victim, false);
    const double killed = load.Now();
    load.stack().KillController(victim);
    SleepUntil(load.origin(), killed + 8.0);
    const double end = load.Now();  // the clients stop here
    load.Stop();
    std::printf("killed controller %zu at %.2f s\n", victim, killed);
    load.ExpectHeld("steady then kill", 2.0);
    Misses misses = load.ExpectUsed("steady state", 2.0, killed);
    for (const Misses& more :
         {load.ExpectUsed("from 3 s after the kill", killed + 3.0, end),
          load.ExpectFast("steady state", 2.0, killed),
          load.ExpectFast("across the kill", killed, end),
          load.ExpectProbesArrived()}) {
      misses.insert(misses.end(), more.begin(), more.end());
    }
    return misses;
  });
}

TEST_F(SeveralControllersTest, RollingRestartOfEveryController) {
  Retried(kAttempts, [&](int) -> Misses {
    ClusterLoad load;
    if (HasFailure()) return {};
    load.Start();
    SleepUntil(load.origin(), 4.0);
    std::vector<double> backs;  // when each restarted controller was ready
    for (size_t c = 0; c < kControllers; ++c) {
      load.prober().SetLive(c, false);
      const double stopped = load.Now();
      load.stack().StopController(c);
      load.stack().StartController(c);
      load.prober().SetLive(c, true);
      const double back = load.Now();
      EXPECT_TRUE(load.AwaitAgents(c)) << load.stack().Logs();
      SleepUntil(load.origin(), back + 4.5);
      std::printf("controller %zu: stopped at %.2f s, ready at %.2f s\n", c,
                  stopped, back);
      backs.push_back(back);
    }
    const double end = load.Now();  // the clients stop here
    load.Stop();
    load.ExpectHeld("rolling restart", 2.0);
    Misses out = load.ExpectUsed("before the restarts", 2.0, 4.0);
    for (const double back : backs) {
      const Misses used =
          load.ExpectUsed("from 3 s after a restart", back + 3.0, back + 4.5);
      out.insert(out.end(), used.begin(), used.end());
    }
    for (const Misses& more : {load.ExpectFast("rolling restart", 2.0, end),
                               load.ExpectProbesArrived()}) {
      out.insert(out.end(), more.begin(), more.end());
    }
    return out;
  });
}

TEST_F(SeveralControllersTest, AFourthControllerIsLearnedByTheAgents) {
  Retried(kAttempts, [&](int) -> Misses {
    ClusterLoad load;
    if (HasFailure()) return {};
    load.Start();
    SleepUntil(load.origin(), 4.0);
    const size_t fourth = load.stack().AddController();
    load.stack().StartController(fourth);
    const double joined = load.Now();
    // The agents were given only the first three: they learn the fourth
    // from the controller set and connect to it.
    EXPECT_TRUE(load.AwaitAgents(fourth)) << load.stack().Logs();
    const double connected = load.Now();
    for (size_t a = 0; a < kAgents; ++a) {
      EXPECT_TRUE(
          Eventually(std::chrono::milliseconds(5000),
                     [&] {
                       return load.stack().AgentMetric(
                                  a, "sluice_agent_controllers_reachable") == 4;
                     }))
          << "agent " << a;
    }
    load.prober().SetLive(fourth, true);
    SleepUntil(load.origin(), joined + 7.0);
    const auto ready = nlohmann::json::parse(
        load.stack().Http(fourth, "GET", "/readyz").body, nullptr, false);
    const double end = load.Now();  // the clients stop here
    load.Stop();
    std::printf(
        "fourth controller ready at %.2f s, every agent connected to it at "
        "%.2f s; it keeps %lld budgets\n",
        joined, connected,
        static_cast<long long>(ready.is_object() && ready.contains("cluster")
                                   ? ready["cluster"].value("buckets", 0)
                                   : -1));
    load.ExpectHeld("fourth controller", 2.0);
    Misses misses = load.ExpectUsed("before the fourth", 2.0, 4.0);
    for (const Misses& more :
         {load.ExpectUsed("from 3 s after the fourth", joined + 3.0, end),
          load.ExpectFast("fourth controller", 2.0, end),
          load.ExpectProbesArrived()}) {
      misses.insert(misses.end(), more.begin(), more.end());
    }
    return misses;
  });
}

}  // namespace
}  // namespace sluice::testing
