// ClusterStack: several real sluice-controllers sharing one fresh
// PostgreSQL database, and real sluice-agents each given a list of them
// (docs/high-availability.md), for end-to-end tests. The controllers reach
// PostgreSQL through a TcpRelay, so a test can stop "the database" for a
// while (SetDatabaseDown) without touching the shared test server.
// Everything it starts is stopped by PID when it goes away.
//
// Controller i listens on its own ports (HTTP, agents, metrics), kept
// across restarts; it advertises tcp://127.0.0.1:<agents port>, spelled as
// the agents' --controller lists spell it, and runs at nice 10, as if on a
// host of its own (see StartController). Agents are numbered from 0 and
// called "it-agent-<i>". Not thread-safe, except Http() and Metric(),
// which any thread may call for a controller that is not being started.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/stack.h"
#include "tests/support/process.h"
#include "tests/support/tcp_relay.h"
#include "tests/support/test_database.h"

namespace sluice::testing {

struct ClusterHttpResult {
  int status = 0;  // 0: no answer (the body says why)
  std::string body;
  std::string etag;
};

class ClusterStack {
 public:
  // Ports for `controllers` controllers (none started); `controller_args`
  // are appended to every controller's command line.
  ClusterStack(size_t controllers, std::vector<std::string> controller_args);
  ~ClusterStack();
  ClusterStack(const ClusterStack&) = delete;
  ClusterStack& operator=(const ClusterStack&) = delete;

  size_t controllers() const { return slots_.size(); }
  // Ports for one more controller; returns its index.
  size_t AddController();
  // Starts controller i and waits (20 s at most) until its /readyz says
  // 200 and it is a member of a controller set; throws otherwise.
  void StartController(size_t i);
  void KillController(size_t i);  // SIGKILL
  void StopController(size_t i);  // SIGTERM, a clean stop
  bool Running(size_t i);
  std::string endpoint(size_t i) const;  // the agents' endpoint

  // Starts agent i given the endpoints of `controllers` (in that order),
  // and waits until it answers PING.
  void StartAgent(size_t i, const std::vector<size_t>& controllers);
  ChildProcess& agent(size_t i) { return *agents_.at(i).process; }
  std::string socket_path(size_t i) const;

  // A request to controller i with the admin token (and If-Match when
  // `if_match` is not empty); 5 s at most.
  ClusterHttpResult Http(size_t i, const std::string& method,
                         const std::string& path, const std::string& body = "",
                         const std::string& if_match = "");
  // An unlabelled metric of controller i or agent i, -1 when missing.
  double ControllerMetric(size_t i, const std::string& name);
  double AgentMetric(size_t i, const std::string& name);

  // "Stops" PostgreSQL for the controllers: every connection to it is
  // closed and new ones fail at once, until SetDatabaseDown(false).
  void SetDatabaseDown(bool down) { relay_->SetDown(down); }

  // The tails of every log, for failure messages.
  std::string Logs();

 private:
  struct Slot {
    uint16_t http = 0, agents = 0, metrics = 0;
    std::unique_ptr<ChildProcess> process;
  };

  TestDatabase db_;
  std::unique_ptr<TcpRelay> relay_;
  std::string conninfo_;
  std::string dir_;
  std::vector<std::string> controller_args_;
  std::vector<Slot> slots_;
  std::map<size_t, Slot> agents_;  // http unused; metrics: agent's --metrics
};

}  // namespace sluice::testing
