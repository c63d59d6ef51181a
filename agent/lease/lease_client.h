// LeaseClient: the agent's side of the agent channel (see common/wire.h).
// Connects one ZeroMQ DEALER to each controller (the endpoints given, and
// members of the controller set learned from a Controllers message;
// docs/high-availability.md) and runs one thread that owns them all:
//   - sends Hello to each on connect and whenever it comes back, and a
//     Heartbeat every heartbeat_ms; a controller is "reachable" while it
//     has answered within reachable_timeout_ms;
//   - keeps ONE rule set from all of them: applies RulesDelta when its
//     base matches, takes a snapshot unless it is older than what it holds
//     (with one controller, any snapshot), asks a controller whose
//     Heartbeat shows newer rules (or a newer controller set) for a
//     snapshot; hands every new rule set to on_rules as a compiled
//     RuleIndex;
//   - adopts the highest controller set seen from any controller, and
//     sends each LeaseRequest item to its bucket's owner (with no set: to
//     the first reachable controller given); items whose owner is not
//     reachable are dropped (the checker holds them back, see
//     Checker::SetOwners); hands each LeaseGrant to on_grant together with
//     the time its request was sent;
//   - sends usage reports to one reachable controller.
//
// Callbacks run on the client's thread: they must be quick and must not call
// back into the LeaseClient except Submit().
//
// Thread-safety: Submit(), reachable(), agents() and the other getters are
// thread-safe; Start/Stop from one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/check/owner_map.h"
#include "common/clock.h"
#include "common/rule_index.h"
#include "common/status.h"
#include "common/wire.h"

namespace sluice {

struct LeaseClientOptions {
  // One controller's ZeroMQ endpoint, or several separated by commas.
  std::string endpoint = "tcp://127.0.0.1:7070";
  std::string agent_id;  // informational; defaults to hostname:pid
  int64_t heartbeat_ms = 1000;
  int64_t reachable_timeout_ms = 3000;
  // CurveZMQ: this agent's keypair and the controller's public
  // key, all Z85 (platform/curve_keys.h); several controllers share one
  // keypair, so one public key serves them all. All three set: the channel is
  // encrypted and the controller authenticated (and it authenticates this
  // agent by its public key). All empty: plain text. Start() refuses a mix.
  std::string curve_public_key;
  std::string curve_secret_key;
  std::string controller_public_key;
  // Nice steps added to the priority of the client's thread and of
  // ZeroMQ's I/O thread (which inherits it): background work yields the
  // cores to decisions and to the host's applications
  // (platform/thread_priority.h). 0: the agent's own priority.
  int background_nice = 10;
};

struct LeaseClientCallbacks {
  std::function<void(std::shared_ptr<const RuleIndex>)> on_rules;
  // `sent_at`: the clock's time when the request was sent.
  std::function<void(const LeaseGrant& grant, int64_t sent_at)> on_grant;
  // Reachability changed (any controller reachable), or the agent count
  // did (the largest any reachable controller reports).
  std::function<void(bool reachable, int64_t agents)> on_controller;
  // Which buckets' owners are reachable changed (a controller came or
  // went, or the set changed). Called before on_controller.
  std::function<void(std::shared_ptr<const OwnerMap>)> on_owners;
  // Optional: each batch given to Submit() or Summarize(), as the client
  // thread takes it (usage analytics summarise it there, off the event
  // loop).
  std::function<void(const std::vector<LeaseWant>& wants)> on_submitted;
};

class LeaseClient {
 public:
  LeaseClient(LeaseClientOptions options, LeaseClientCallbacks callbacks,
              const Clock* clock);
  ~LeaseClient();  // Stop()s

  // Connects (the controllers need not be up yet) and starts the thread.
  // Fails (InvalidArgument) on an endpoint ZeroMQ refuses, or a list with
  // an empty or repeated element. The rule set
  // received so far is kept across Stop()/Start().
  Status Start();
  // Stops the thread and closes the sockets.
  void Stop();
  // Stop(), after sending the usage reports queued (SubmitUsage) and
  // receiving their acknowledgement, and the grants of the lease requests
  // sent to reachable controllers (a stopping agent's last reports, to
  // every owner); waits until `drain_until` (steady clock) at the latest,
  // and not at all while no controller is reachable: an agent that stops
  // loses none of the usage it counted.
  void Stop(std::chrono::steady_clock::time_point drain_until);

  // Queues a request; the client thread sends it (assigning seq) within a
  // few milliseconds, split by owner. Items whose owner is unreachable are
  // dropped with a log line (the buckets' request timeout retries).
  void Submit(std::vector<LeaseWant> items);
  // Items nobody needs sent (reports the controller has no use for): the
  // client thread hands them to on_submitted at its next tick, and sends
  // nothing.
  void Summarize(std::vector<LeaseWant> items);

  // Returns once the client thread has taken every batch given to
  // Submit() and Summarize() before the call (handed it to on_submitted,
  // and sent it), or at `until` (steady clock); at once when the thread is
  // not running.
  void Flush(std::chrono::steady_clock::time_point until);

  // Usage analytics: queues a report the same way; the client thread
  // keeps it (agent/usage/usage_outbox.h) and sends it until the
  // controller acknowledges it, also across reconnects and controller
  // restarts. Never blocks.
  void SubmitUsage(UsageReport report);
  // Reports dropped unacknowledged because too many were waiting.
  int64_t usage_reports_dropped() const { return usage_dropped_.load(); }
  // Reports waiting for their acknowledgement.
  int64_t usage_reports_pending() const { return usage_pending_.load(); }

  bool reachable() const { return reachable_.load(); }
  int64_t agents() const { return agents_.load(); }
  int64_t rules_version() const { return rules_version_.load(); }
  // Controllers reachable now, and the version of the set held (0: none).
  int64_t controllers_reachable() const {
    return controllers_reachable_.load();
  }
  int64_t controller_set_version() const { return set_version_.load(); }

 private:
  class Impl;  // socket, thread state, submit queue; lives as long as this
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  std::atomic<bool> reachable_{false};
  std::atomic<int64_t> agents_{1};
  std::atomic<int64_t> rules_version_{0};
  std::atomic<int64_t> controllers_reachable_{0};
  std::atomic<int64_t> set_version_{0};
  std::atomic<int64_t> usage_dropped_{0};
  std::atomic<int64_t> usage_pending_{0};
};

}  // namespace sluice
