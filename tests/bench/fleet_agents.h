// FleetAgents: many simulated agents in one process, for fleet_sim
// (tests/bench/fleet.sh). Each agent has one ZeroMQ DEALER per controller
// endpoint (its own identity on each), and speaks the agent channel
// (common/wire.h) as sluice-agent's LeaseClient does, minus the checks:
//   - Hello on connect; a Heartbeat to every controller every second
//     (agents staggered over the second);
//   - one rule-set version per agent, from whichever controller is first:
//     a RulesDelta applies when its base is the agent's version (else a
//     SnapshotRequest), a snapshot unless it is older, a Heartbeat showing
//     newer rules (or a newer controller set) asks for a snapshot;
//   - the highest controller set seen (Controllers), and each LeaseRequest
//     item sent to its bucket's owner (common/membership.h), all items to
//     the first controller while no set is known;
//   - once leasing is on, a UsageReport every second to the first
//     controller (agents report to the first reachable one), and one
//     LeaseRequest per owner every lease interval
//     holding a line for each of the agent's buckets (its own, distinct
//     from every other agent's: one agent per bucket).
// Nothing is retried and nothing is checked against the grants: the
// controller's work per message is what the benchmark measures.
//
// Thread-compatible: one thread drives it (Pump).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "common/membership.h"
#include "common/wire.h"

namespace fleet {

struct FleetOptions {
  std::vector<std::string> endpoints;  // the controllers' --agents endpoints
  int agents = 1000;
  int buckets_per_agent = 50;  // buckets of `rule_id`, one value each
  int64_t rule_id = 0;         // the rule the lease lines are for
  int64_t lease_interval_ms = 1000;
  int64_t heartbeat_ms = 1000;
  // While leasing: a UsageReport every second (one count row for
  // `rule_id`) to the first controller, as a busy agent sends them.
  bool usage_reports = true;
};

// Counters per controller (index into FleetOptions::endpoints).
struct ControllerCounts {
  int64_t lines_sent = 0;      // LeaseRequest items sent
  int64_t lines_answered = 0;  // LeaseGrant items received
  int64_t lines_granted = 0;   // of those, with tokens > 0
  int64_t send_failures = 0;   // messages ZeroMQ would not queue
  int64_t errors = 0;          // ErrorMessage received
  int64_t usage_sent = 0;      // UsageReports sent
  int64_t usage_acked = 0;     // UsageAcks received (stored reports)
};

int64_t NowMs();  // steady clock, milliseconds

class FleetAgents {
 public:
  explicit FleetAgents(FleetOptions options);
  ~FleetAgents();

  // Connects every agent to every controller and sends the Hellos.
  void Connect();
  // Serves messages and timers until `until_ms` (NowMs() scale).
  void Pump(int64_t until_ms);
  // Pumps until `done()` holds or `until_ms`; true if it held.
  template <typename Pred>
  bool PumpUntil(Pred done, int64_t until_ms) {
    while (!done()) {
      if (NowMs() >= until_ms) return false;
      Pump(NowMs() + 20);
    }
    return true;
  }

  void set_leasing(bool on) { leasing_ = on; }

  // Agents holding at least this rules version.
  int AgentsAtRules(int64_t version) const;
  // The highest rules version any agent holds.
  int64_t MaxRulesVersion() const;
  // Agents that adopted a controller set with `members` members.
  int AgentsWithMembers(size_t members) const;

  // Starts timing agents reaching rules version `target`: each agent's
  // first arrival at or past it, in ms after `start_ms`, is recorded.
  void ArmProbe(int64_t target, int64_t start_ms);
  const std::vector<int64_t>& probe_latencies() const { return latencies_; }

  const std::vector<ControllerCounts>& counts() const { return counts_; }
  // Distinct buckets whose lines went to each controller (last routing).
  std::vector<int64_t> BucketsPerController() const;

 private:
  struct Agent;
  void HandleMessage(int agent, int conn, const zmq::message_t& msg);
  void OnRulesVersion(Agent& a, int64_t version);
  void AdoptSet(Agent& a, const sluice::ControllerSet& set);
  void Route(Agent& a);
  void SendLeases(int agent);
  void SendHeartbeats(int agent);
  void SendUsage(int agent);
  bool Send(int agent, int conn, const sluice::WireMessage& message);
  void RunTimers();

  FleetOptions options_;
  zmq::context_t context_;
  std::vector<std::unique_ptr<Agent>> agents_;
  std::vector<zmq_pollitem_t> poll_items_;  // agent * conns + conn
  std::vector<ControllerCounts> counts_;
  // Every set seen, by version: agents point at one.
  std::map<int64_t, std::unique_ptr<sluice::Ownership>> sets_;
  bool leasing_ = false;
  uint64_t incarnation_ = 0;
  int64_t probe_target_ = 0;
  int64_t probe_start_ms_ = 0;
  std::vector<int64_t> latencies_;
};

}  // namespace fleet
