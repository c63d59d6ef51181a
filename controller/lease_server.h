// LeaseServer: the controller's side of the agent channel (see
// common/wire.h for the protocol). Binds a ZeroMQ ROUTER on the agents'
// endpoint and runs one thread that owns it:
//   - answers Hello / SnapshotRequest / unknown agents with a RulesSnapshot
//     from the RuleCatalog, and pushes a RulesDelta to every known agent
//     within ~50 ms of a catalog change;
//   - answers Heartbeats, and forgets agents silent for agent_timeout;
//   - answers LeaseRequests from one GlobalBudget per bucket (created on
//     first use, reconfigured when its rule changes, dropped when its rule
//     goes or it has been idle and full for a while);
//   - refuses malformed frames with an ErrorMessage, never crashes.
//
// Thread-safety: Start/Stop from one thread; the accessors are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/status.h"
#include "controller/rule_catalog.h"

namespace prometheus {
class Registry;
}

namespace sluice {

struct LeaseServerOptions {
  std::string endpoint = "tcp://127.0.0.1:7070";  // ZeroMQ bind address
  int64_t lease_ttl_ms = 2000;                    // how long a grant is valid
  int64_t agent_timeout_ms = 5000;  // silent this long: agent forgotten
  // Controller restart safety: after Start(), grant nothing for this long
  // (the longest lease a previous incarnation could have granted).
  int64_t learning_ms = 0;
  // (Issue 4: CurveZMQ keys go here; the socket is configured in one place,
  // LeaseServer::Impl::Bind.)
};

class LeaseServer {
 public:
  // `catalog`, `clock` and `registry` must outlive the server. `registry`
  // may be null (no metrics).
  LeaseServer(LeaseServerOptions options, RuleCatalog* catalog,
              const Clock* clock, prometheus::Registry* registry);
  ~LeaseServer();  // Stop()s

  // Binds the endpoint and starts the thread. Fails (Unavailable) when the
  // endpoint cannot be bound, saying which and why. The clock is read for
  // budgets, the learning period and agent timeouts.
  Status Start();
  // Stops the thread and closes the socket; the endpoint is free again when
  // it returns. Start() may be called again afterwards.
  void Stop();

  bool running() const { return running_.load(); }
  // Agents heard from within agent_timeout (an agent whose connection is
  // found closed is forgotten at once).
  int64_t connected_agents() const { return agents_.load(); }

 private:
  class Impl;  // the thread's state: socket, agents, budgets

  const LeaseServerOptions options_;
  RuleCatalog* const catalog_;
  const Clock* const clock_;
  prometheus::Registry* const registry_;
  std::unique_ptr<Impl> impl_;  // non-null while running
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::atomic<int64_t> agents_{0};
};

}  // namespace sluice
