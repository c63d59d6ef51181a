// Failures (docs/leasing.md, "When the controller is away", "Controller
// restart", "Agent crash"), with real processes killed by SIGKILL: a real
// controller on PostgreSQL, real agents, paced hiredis clients.
//   - Controller unreachable: agents keep answering at once, spend their
//     leases, then follow each rule's failure_mode (open, closed, local).
//   - Controller restart: the global limit holds again within two seconds.
//   - Agent crash: its share goes to the other agents; the controller
//     forgets it and its demand.
// Timing: --lease-ttl-ms 1000; an agent calls the controller unreachable
// after 3 s without an answer (LeaseClientOptions::reachable_timeout_ms).
//
// These run on wall time: the daemons are separate processes, so no clock
// can be injected (tests/agent/agent_test.cc runs the failure modes
// in-process on a simulated clock; tests/common/allocator_sim_test.cc the
// allocation through a restart and a crash). Waits are for conditions
// (RL.INFO, metrics), bounded. Each expectation is one of two kinds:
//   - hard: a guarantee of the design, which no load excuses (every check
//     answered, nothing waits on the network, the failure modes, what the
//     agents admit together stays within burst + rate·W);
//   - soft (Misses): a figure that needs the machine to keep up with the
//     schedule (clients sending on time, p99 latency, admitted rates close
//     to their targets). An attempt that misses one is reported and run
//     again on a fresh stack, kAttempts times at most; only the last
//     attempt's misses fail the test.
// On two busy cores the agents' background lease threads (10 nice steps
// below the agent) may be starved for hundreds of milliseconds: their
// refresh cadence breaks, the budget keeps what they did not claim (credit
// and pool, at most `burst`), and it is admitted in a lump when they ask
// again. Measured under load: 1 s windows of up to 275 in steady state
// before any kill, and up to 292 after a restart, for a limit of 200
// (burst 200), windows counted by send time and by reply time alike, so
// real admissions, not a slow client's timestamps. That is within the
// design's burst + rate·W (400), which is what these tests assert; the
// tighter "limit + 5 %" after a restart is asserted on simulated time in
// allocator_sim_test.cc and only printed here.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/paced_load.h"
#include "tests/integration/stack.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;

constexpr int64_t kLeaseTtlMs = 1000;
constexpr int kAttempts = 3;

class FailoverTest : public ::testing::Test {
 protected:
  // A client writing to a killed agent's socket must not kill the test.
  static void SetUpTestSuite() { std::signal(SIGPIPE, SIG_IGN); }

  // A fresh stack (the previous attempt's processes stopped, its database
  // dropped) with a controller and `agents` agents.
  void StartStack(size_t agents) {
    stack_.reset();
    stack_ = std::make_unique<Stack>();
    stack_->StartController({"--lease-ttl-ms", std::to_string(kLeaseTtlMs)});
    for (size_t i = 0; i < agents; ++i) stack_->StartAgent(i);
  }
  Stack& stack() { return *stack_; }

  void CreateRule(const std::string& domain, int64_t limit,
                  const std::string& failure_mode) {
    nlohmann::json rule = {{"name", "failover-" + domain},
                           {"domain", domain},
                           {"match", {{"route", "/hot"}}},
                           {"limit", limit},
                           {"period", "1s"},
                           {"burst", limit},
                           {"failure_mode", failure_mode}};
    HttpResult created = stack().Http("POST", "/api/v1/rules", rule.dump());
    ASSERT_EQ(created.status, 201) << created.body;
  }

  // Waits until agent `index` knows the rule of `domain`.
  void AwaitRule(size_t index, const std::string& domain, int64_t limit) {
    RedisClient client(stack().socket_path(index));
    ASSERT_TRUE(Eventually(milliseconds(5000), [&] {
      return client.Check({"RL.CHECK", domain, "0", "route", "/hot"}).limit ==
             limit;
    })) << stack().agent(index).LogTail();
  }

  // Waits until agent `index`'s RL.INFO holds `line` ("leases:3").
  bool AwaitInfo(size_t index, const std::string& line, milliseconds timeout) {
    RedisClient client(stack().socket_path(index));
    return Eventually(timeout, [&] {
      auto reply = client.Command({"RL.INFO"});
      return reply && reply->type == REDIS_REPLY_STRING &&
             std::string(reply->str, reply->len).find(line + "\r\n") !=
                 std::string::npos;
    });
  }

  static std::vector<std::string> Check(const std::string& domain) {
    return {"RL.CHECK", domain, "1", "route", "/hot"};
  }

  std::unique_ptr<Stack> stack_;
};

// What FailureModesAttempt measured.
struct FailureModeRun {
  std::vector<Record> open, closed, local;
  int64_t errors = 0;
  double killed = 0, from = 0, to = 0;
};

Misses CheckFailureModes(const FailureModeRun& run) {
  const double killed = run.killed, from = run.from, to = run.to;
  const Span s_open = In(run.open, from, to),
             s_closed = In(run.closed, from, to),
             s_local = In(run.local, from, to);
  const Span lease_closed = In(run.closed, killed, killed + 1.0);
  const double p50 = Percentile(run.local, killed, to, 0.5),
               p99 = Percentile(run.local, killed, to, 0.99);
  const double max_latency =
      std::max({In(run.open, killed, to).max_latency_ms,
                In(run.closed, killed, to).max_latency_ms,
                In(run.local, killed, to).max_latency_ms});
  const double local_rate = static_cast<double>(s_local.allowed) / (to - from);
  std::printf(
      "first second after the kill: closed %lld/%lld admitted\n"
      "from %.1f s after: open %lld/%lld closed %lld/%lld local %lld/%lld "
      "(%.1f/s)\nlatency after the kill: p50 %.2f ms p99 %.2f ms max %.2f "
      "ms\n",
      static_cast<long long>(lease_closed.allowed),
      static_cast<long long>(lease_closed.checks), from - killed,
      static_cast<long long>(s_open.allowed),
      static_cast<long long>(s_open.checks),
      static_cast<long long>(s_closed.allowed),
      static_cast<long long>(s_closed.checks),
      static_cast<long long>(s_local.allowed),
      static_cast<long long>(s_local.checks), local_rate, p50, p99,
      max_latency);
  // Hard. No decision waits on the network: every check answered, none
  // anywhere near the seconds a wait for the controller would take.
  EXPECT_EQ(run.errors, 0);
  EXPECT_LT(max_latency, 1000.0);
  // The closed rule's safe share keeps admitting its modest demand right
  // after the kill (until the controller is called unreachable)...
  EXPECT_GE(lease_closed.allowed, lease_closed.checks - 1);
  // ...then each failure mode applies.
  EXPECT_GT(s_open.checks, 0);
  EXPECT_EQ(s_open.allowed, s_open.checks);
  EXPECT_GT(s_closed.checks, 0);
  EXPECT_EQ(s_closed.allowed, 0);
  EXPECT_TRUE(s_closed.all_retry_1000);
  // `local` is the safe share, limit / agents: at most its capacity (20)
  // plus its refill (20/s).
  EXPECT_LE(s_local.allowed, 20 + 20 * (to - from));
  // Soft: the clients kept their schedule, quickly answered, and the safe
  // share was used.
  Misses misses;
  const int64_t sent = In(run.local, killed, to).checks;
  Soft(&misses, sent >= 0.9 * 60 * (to - killed),
       Figure("the local client sent %.0f checks after the kill, expected "
              "at least 90 %% of %.0f",
              static_cast<double>(sent), 60 * (to - killed)));
  Soft(&misses, p99 < 50.0,
       Figure("p99 latency after the kill %.1f ms, expected under %.0f ms", p99,
              50));
  Soft(&misses, local_rate >= 20 * 0.7,
       Figure("local admitted %.1f/s, expected at least %.0f/s", local_rate,
              14));
  return misses;
}

TEST_F(FailoverTest, ControllerUnreachableAgentsAnswerThenFollowFailureMode) {
  Retried(kAttempts, [&](int) -> Misses {
    StartStack(2);  // two agents: `local` is limit / 2
    for (const char* mode : {"open", "closed", "local"}) {
      CreateRule(std::string("fm-") + mode, 40, mode);
      for (size_t i = 0; i < 2; ++i) {
        AwaitRule(i, std::string("fm-") + mode, 40);
      }
    }
    if (HasFailure()) return {};
    // Agent 0 only: `open` and `local` wanted at 60/s (over the limit),
    // `closed` at 20/s (its safe share's rate, 40/s over 2 agents: decided
    // locally, without a lease, until the controller is called away).
    const auto origin = Steady::now();
    PacedClient open(stack().socket_path(0), Check("fm-open"), 60);
    PacedClient closed(stack().socket_path(0), Check("fm-closed"), 20);
    PacedClient local(stack().socket_path(0), Check("fm-local"), 60);
    for (PacedClient* c : {&open, &closed, &local}) c->Start(origin);
    // `open` and `local` leased, past the controller's learning period
    // (one TTL).
    EXPECT_TRUE(AwaitInfo(0, "leases:2", milliseconds(10000)));
    SleepUntil(origin, 3.0);

    FailureModeRun run;
    run.killed = Since(origin);
    stack().controller().Kill();
    // Settled: the lease expired (1 s after the kill at most) and the
    // agent calls the controller unreachable (3 s after its last answer);
    // then 3 s of each failure mode.
    EXPECT_TRUE(AwaitInfo(0, "controller_reachable:0", milliseconds(15000)));
    run.from = std::max(Since(origin), run.killed + kLeaseTtlMs / 1000.0) + 0.2;
    run.to = run.from + 3.0;
    SleepUntil(origin, run.to + 0.1);
    for (PacedClient* c : {&open, &closed, &local}) c->Stop();
    run.open = open.records();
    run.closed = closed.records();
    run.local = local.records();
    run.errors = open.errors() + closed.errors() + local.errors();
    return CheckFailureModes(run);
  });
}

// Down for a moment (a crash and an immediate restart), or for 2 s (the
// agents' leases expire meanwhile and they fall back on their safe shares).
class RestartTest : public FailoverTest,
                    public ::testing::WithParamInterface<int> {
 protected:
  static constexpr double kRate = 200, kBurst = 200;

  Misses Attempt(int down_ms) {
    StartStack(2);
    CreateRule("restart", 200, "local");
    for (size_t i = 0; i < 2; ++i) AwaitRule(i, "restart", 200);
    if (HasFailure()) return {};
    const auto origin = Steady::now();
    PacedClient a(stack().socket_path(0), Check("restart"), 300);
    PacedClient b(stack().socket_path(1), Check("restart"), 300);
    a.Start(origin);
    b.Start(origin);
    SleepUntil(origin, 4.0);
    const double killed = Since(origin);
    stack().controller().Kill();
    std::this_thread::sleep_for(milliseconds(down_ms));
    stack().RestartController();  // returns once /readyz answers
    const double back = Since(origin);
    SleepUntil(origin, back + 6.0);
    a.Stop();
    b.Stop();
    const std::vector<std::vector<Record>> all = {a.records(), b.records()};
    const double end = Since(origin);
    EXPECT_EQ(a.errors() + b.errors(), 0);
    return Evaluate(all, killed, back, end);
  }

  static Misses Evaluate(const std::vector<std::vector<Record>>& all,
                         double killed, double back, double end) {
    const double before =
        static_cast<double>(Admitted(all, 2, killed)) / (killed - 2);
    const int64_t steady = MaxWindow(all, 2, killed, 1.0);
    const int64_t held_from = MaxWindow(all, back + 2, end, 1.0);
    const int64_t tail = Admitted(all, back + 2, end);
    const int64_t across = Admitted(all, killed, end);
    double whole_run_at = 0;
    const int64_t whole_run = MaxWindow(all, 0, end, 1.0, &whole_run_at);
    const double after =
        static_cast<double>(Admitted(all, back + 3, end)) / (end - back - 3);
    std::printf(
        "restart: down %.2f s; %.0f/s admitted before (max 1 s window %lld); "
        "max 1 s window from 2 s after the restart %lld (limit 200); whole "
        "run %lld at %.2f s (burst + rate 400; killed at %.2f s); %.0f/s "
        "admitted from 3 s after; admitted from 2 s after the restart %lld "
        "(bound %.0f), from the crash %lld (bound %.0f)\n",
        back - killed, before, static_cast<long long>(steady),
        static_cast<long long>(held_from), static_cast<long long>(whole_run),
        whole_run_at, killed, after, static_cast<long long>(tail),
        kBurst + kRate * (end - back - 2), static_cast<long long>(across),
        2 * kBurst + kRate * (end - killed));
    // Hard: the design's bound, burst + rate·W, for every 1 s window and
    // for all that follows the restart; across the crash, the safe shares
    // of the agents while the controller was away may add a burst.
    EXPECT_LE(whole_run, (kBurst + kRate) * 1.05);
    EXPECT_LE(tail, (kBurst + kRate * (end - back - 2)) * 1.01);
    EXPECT_LE(across, 2 * kBurst + kRate * (end - killed));
    // Soft: the limit is used before the crash and again after it.
    Misses misses;
    Soft(&misses, before >= 0.9 * kRate,
         Figure("%.0f/s admitted before the crash, expected at least %.0f/s",
                before, 0.9 * kRate));
    Soft(&misses, after >= 0.8 * kRate,
         Figure("%.0f/s admitted from 3 s after the restart, expected at "
                "least %.0f/s",
                after, 0.8 * kRate));
    return misses;
  }
};

TEST_P(RestartTest, RestartedControllerHoldsTheLimitAgainWithinTwoSeconds) {
  Retried(kAttempts, [&](int) { return Attempt(GetParam()); });
}

INSTANTIATE_TEST_SUITE_P(Downtime, RestartTest, ::testing::Values(0, 2000));

TEST_F(FailoverTest, CrashedAgentsShareGoesToTheOthersAndIsForgotten) {
  Retried(kAttempts, [&](int) -> Misses {
    StartStack(2);
    CreateRule("crash", 200, "local");
    for (size_t i = 0; i < 2; ++i) AwaitRule(i, "crash", 200);
    if (HasFailure()) return {};
    const auto origin = Steady::now();
    PacedClient survivor(stack().socket_path(0), Check("crash"), 300);
    auto doomed = std::make_unique<PacedClient>(stack().socket_path(1),
                                                Check("crash"), 300);
    survivor.Start(origin);
    doomed->Start(origin);
    SleepUntil(origin, 4.0);
    EXPECT_TRUE(Eventually(milliseconds(5000), [&] {
      return stack().ControllerMetric(
                 "sluice_controller_lease_bucket_agents") == 2;
    }));
    doomed->Stop();
    const double killed = Since(origin);
    stack().agent(1).Kill();
    // Forgotten: the controller times the agent out (5 s) and drops its
    // demand from the bucket.
    const bool forgotten = Eventually(milliseconds(15000), [&] {
      return stack().ControllerMetric("sluice_controller_agents_connected") ==
                 1 &&
             stack().ControllerMetric(
                 "sluice_controller_lease_bucket_agents") == 1;
    });
    const double gone = Since(origin);
    SleepUntil(origin, std::max(gone, killed + 3.5) + 0.5);
    survivor.Stop();
    const std::vector<std::vector<Record>> mine = {survivor.records()};
    const std::vector<std::vector<Record>> theirs = {doomed->records()};
    const double before =
        static_cast<double>(Admitted(mine, 2.5, killed)) / (killed - 2.5);
    const double doomed_before =
        static_cast<double>(Admitted(theirs, 2.5, killed)) / (killed - 2.5);
    const double after =
        static_cast<double>(Admitted(mine, killed + 1.5, killed + 3.5)) / 2.0;
    std::printf(
        "agent crash: survivor %.0f/s before (the other %.0f/s), %.0f/s "
        "from 1.5 s after; forgotten after %.1f s\n",
        before, doomed_before, after, gone - killed);
    // Hard: forgotten, and never more than burst + rate in a second.
    EXPECT_TRUE(forgotten);
    EXPECT_EQ(survivor.errors(), 0);
    EXPECT_LE(MaxWindow(mine, 0, Since(origin), 1.0), 400 * 1.05);
    // Soft: the fair split before, all of it to the survivor after.
    Misses misses;
    Soft(&misses, before >= 80 && before <= 120,
         Figure("survivor %.0f/s before the crash, expected %.0f/s +- 20",
                before, 100));
    Soft(&misses, after >= 0.9 * 200,
         Figure("survivor %.0f/s from 1.5 s after the crash, expected at "
                "least %.0f/s",
                after, 180));
    return misses;
  });
}

}  // namespace
}  // namespace sluice::testing
