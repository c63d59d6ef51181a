// Agent: the sluice-agent daemon, wiring the RESP server, the checker and
// its buckets, the lease client and the metrics around ONE event loop
// (a Boost.Asio io_context run by the thread that calls Run()).
//
// Threads:
//   - the event loop owns the checker, the bucket table and the server:
//     every check, sweep and rule swap runs there, without locks; so do
//     the front doors (agent/front_door.h): the HTTP check runs on it, and
//     gRPC's threads only post each call onto it;
//   - the LeaseClient's thread talks to the controller; its callbacks only
//     post onto the event loop: a new rule set (swap the index, adopt
//     changed rules), a grant (ApplyGrant on the named buckets), the
//     controllers' reachability and agent count (the LeaseContext), and,
//     with several controllers, which buckets' owners are reachable
//     (Checker::SetOwners, an immutable OwnerMap swapped whole);
//   - the metrics Exposer's threads read atomic counters.
// Lease requests: a bucket that needs a lease is queued by the checker;
// after a batch of reads queues one, a short timer (flush_delay_ms) sends
// all queued requests in one LeaseClient::Submit, or at once when
// flush_at_pending are queued. (Each send wakes the lease thread, ZeroMQ's
// I/O threads and the controller, which on a small host take the cores
// the clients and this loop need: 20 ms between sends costs a new bucket
// nothing, it runs on its safe share meanwhile, and measured 1-client
// round trips 2-3x faster than 2 ms; under load, batches of at most a few
// hundred keep each burst of controller work short: measured p99 latency
// at 50 clients without pipelining 0.9 ms instead of 1.3 ms.) Every
// sweep_interval_ms a
// sweep reports buckets not checked lately (Checker::Sweep: refusals and
// unleased use at once, use of leases once quiet), evicts idle buckets
// (a slice of the table per sweep, the whole table about once a second)
// and publishes the decision counters.
//
// Thread-safety: Start() and Run() from one thread; Stop() from any thread
// (also from a signal handler installed by the agent itself).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agent/check/checker.h"
#include "agent/commands/command_handler.h"
#include "agent/front_door.h"
#include "agent/lease/lease_client.h"
#include "agent/metrics/agent_metrics.h"
#include "agent/server/server.h"
#include "agent/usage/usage_collector.h"
#include "common/clock.h"
#include "common/local_bucket.h"
#include "common/status.h"

namespace sluice {

// Default --max-buckets: one million buckets, about 105 MB at most (see
// agent/check/bucket_table.h for the cost of a bucket).
constexpr size_t kDefaultMaxBuckets = 1000 * 1000;

struct AgentOptions {
  // ZeroMQ endpoint, or several separated by commas (one per controller).
  std::string controller = "tcp://127.0.0.1:7070";
  std::string agent_id;  // empty: hostname:pid
  // LeaseClient timing (defaults: LeaseClientOptions').
  int64_t heartbeat_ms = LeaseClientOptions{}.heartbeat_ms;
  int64_t reachable_timeout_ms = LeaseClientOptions{}.reachable_timeout_ms;
  // CurveZMQ keys, Z85 (see LeaseClientOptions): all set or all empty.
  std::string curve_public_key;
  std::string curve_secret_key;
  std::string controller_public_key;
  // A non-loopback controller without CurveZMQ keys was allowed
  // (--insecure; agent/agent_flags.h checks the rule): Start() says so in
  // the log.
  bool insecure = false;
  ServerOptions server;  // --socket, --tcp, limits
  // More listeners on the same checker (--grpc, --http-check): built when
  // the agent is, started after the RESP server (agent/front_door.h).
  std::vector<FrontDoorFactory> front_doors;
  // --grpc and --http-check HOST:PORT as given (empty: off); main.cc turns
  // them into front_doors.
  std::string grpc;
  std::string http_check;
  std::string metrics;  // HOST:PORT for /metrics; empty: none
  size_t max_buckets = kDefaultMaxBuckets;
  LeaseTiming timing;
  int64_t flush_delay_ms = 20;
  size_t flush_at_pending = 512;
  int64_t sweep_interval_ms = 100;
  // How often decisions go to the controller as a usage report
  // (docs/analytics.md); a decision shows in /api/v1/usage within this
  // plus the controller's write.
  int64_t usage_report_ms = 1000;
  // Stopping, the agent sends every bucket's last report and its last
  // usage report (the counts since the previous one, and the current
  // minute's summaries), and waits this long at most, in all, for the
  // controller's acknowledgement (not at all while no controller is
  // reachable). 0: it does not wait.
  int64_t stop_drain_ms = 1000;
  bool handle_signals = true;  // stop on SIGINT/SIGTERM
};

class Agent {
 public:
  explicit Agent(AgentOptions options, const Clock* clock);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Binds the sockets and the metrics endpoint and starts the lease
  // client. Logs "sluice-agent ready: ..." on success.
  Status Start();
  // Runs the event loop until Stop().
  void Run();
  // Stops everything and makes Run() return; removes the socket file.
  void Stop();

  uint16_t tcp_port() const { return server_->tcp_port(); }
  int metrics_port() const { return metrics_.exposer_port(); }
  const std::string& agent_id() const { return agent_id_; }

 private:
  void OnRules(std::shared_ptr<const RuleIndex> index);
  void OnGrant(const Checker::KeyedGrant& grant, int64_t sent_at);
  void OnController(bool reachable, int64_t agents);
  void OnOwners(std::shared_ptr<const OwnerMap> owners);
  void OnBatch();
  void FlushLeases();
  void ArmSweep();
  void Sweep();
  void Submit(std::vector<LeaseWant> wants);
  void ArmUsage();
  // Sends the usage gathered since the last report; `final`: the last
  // one, with the current minute's summaries (UsageCollector::FinalReport).
  void ReportUsage(bool final = false);
  void DoStop();
  void DrainAndStopLeaseClient();
  void StopListeners();
  void AppendInfo(std::string* out) const;

  AgentOptions options_;
  const Clock* clock_;
  std::string agent_id_;
  // Declared first, destroyed last: handlers still queued are destroyed
  // with it, after everything they point to is gone but never run.
  // Run by one thread: handlers it posts itself (a connection's next read) go
  // to its private queue, without waking the reactor through epoll_ctl. Its
  // sockets and timers are used by that thread alone (other threads only
  // post to it), so the reactor's per-socket locks are off (UNSAFE_IO: two
  // mutex round trips fewer per request); posting stays thread-safe.
  boost::asio::io_context io_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  Checker checker_;
  CommandHandler handler_;
  AgentMetrics metrics_;
  std::unique_ptr<Server> server_;
  std::vector<std::unique_ptr<FrontDoor>> doors_;
  boost::asio::steady_timer flush_timer_;
  boost::asio::steady_timer sweep_timer_;
  boost::asio::steady_timer usage_timer_;
  UsageCollector usage_;  // fed on the event loop, off the decision path
  int64_t usage_reports_made_ = 0;
  int64_t leases_held_ = 0;  // as of the last count (every tenth report)
  boost::asio::signal_set signals_;
  bool flush_armed_ = false;
  bool stopped_ = false;
  std::vector<LeaseWant> wants_;
  std::vector<LeaseWant> unsent_;  // reports the controller needs not
  // Destroyed first: its thread posts onto io_.
  std::unique_ptr<LeaseClient> lease_client_;
};

}  // namespace sluice
