// ClusterLoad: the load of the several-controllers tests
// (cluster_test.cc): three controllers on one database, four agents each
// given all three, one rule of kRate per second (burst kBurst) per tenant,
// and paced clients asking kKeys tenants at 1.5 times the limit, spread
// evenly over the agents. Beside the load, a RuleProber changes a second
// rule through each live controller in turn and times how long the change
// takes to reach every agent.
//
// Not thread-safe: one test thread drives it (the clients and the prober
// run their own threads).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/cluster_stack.h"
#include "tests/integration/paced_load.h"

namespace sluice::testing {

constexpr int64_t kRate = 200, kBurst = 200;
constexpr size_t kKeys = 4, kAgents = 4, kControllers = 3;
constexpr int64_t kLeaseTtlMs = 1000;

// Changes the limit of one rule through the live controllers, one after
// the other (200 ms apart), and records when every agent has it.
class RuleProber {
 public:
  struct Probe {
    size_t controller = 0;
    int status = 0;       // of the PUT (0: no answer)
    double at = 0;        // seconds since the origin, when it answered
    double delay_s = -1;  // until every agent had it; -1: not within 5 s
  };

  RuleProber(ClusterStack* stack, int64_t rule_id, nlohmann::json rule);
  ~RuleProber() { Stop(); }
  void SetLive(size_t controller, bool live);
  void Start(Steady::time_point origin);
  void Stop();
  std::vector<Probe> probes();

 private:
  void Run();
  Probe ProbeOnce(size_t controller, int64_t limit,
                  std::vector<std::unique_ptr<RedisClient>>* agents);

  ClusterStack* const stack_;
  const int64_t rule_id_;
  const nlohmann::json rule_;
  Steady::time_point origin_;
  std::atomic<uint32_t> live_{0};  // bit i: controller i takes requests
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<Probe> probes_;
};

class ClusterLoad {
 public:
  // Starts the controllers and agents, creates the rules (through
  // controller 0) and waits until every agent knows them and is connected
  // to every controller. Throws or fails the test when something is not up.
  ClusterLoad();

  ClusterStack& stack() { return *stack_; }
  RuleProber& prober() { return *prober_; }
  Steady::time_point origin() const { return origin_; }
  double Now() const { return Since(origin_); }

  void Start();  // the clients and the prober, from now (the origin)
  void Stop();

  // True when controller i counts every agent connected (5 s at most).
  bool AwaitAgents(size_t controller);
  // The records of tenant `key`, over every agent (after Stop()).
  std::vector<std::vector<Record>> Key(size_t key) const;

  // Hard: every check answered; no tenant admitted more than
  // (burst + rate) * 1.05 in any 1 s window of the run. Prints each
  // tenant's worst window from `steady_from` on, labelled `what`.
  void ExpectHeld(const std::string& what, double steady_from);
  // Soft: every tenant admitted at least 95 % of the rate in [from, to).
  Misses ExpectUsed(const std::string& what, double from, double to);
  // Soft: p99 of the check's round trip under kFastP99Ms in [from, to).
  // It guards that no decision waits on a controller (a grant, or the 3 s
  // until one is called unreachable), not the speed of a decision, which
  // the benchmarks measure (tests/bench/): on two shared cores, this
  // stack's seven Debug daemons and sixteen clients put the steady state's
  // p99 anywhere from 0.55 to 2.2 ms, by the host's load alone.
  static constexpr double kFastP99Ms = 5.0;
  Misses ExpectFast(const std::string& what, double from, double to);
  // Hard: every accepted change reached every agent (within 5 s), and
  // there was at least one; soft: each within 1 s.
  Misses ExpectProbesArrived();

 private:
  std::unique_ptr<ClusterStack> stack_;
  std::unique_ptr<RuleProber> prober_;
  Steady::time_point origin_;
  std::vector<std::unique_ptr<PacedClient>> clients_;  // [key * kAgents + a]
  std::vector<std::vector<Record>> records_;           // the same order
  int64_t errors_ = 0;
};

// RL.CHECK of tenant `key` of the limited rule (cost 1).
std::vector<std::string> TenantCheck(size_t key);

}  // namespace sluice::testing
