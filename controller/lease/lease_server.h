// LeaseServer: the controller's side of the agent channel (see
// common/wire.h for the protocol). Binds a ZeroMQ ROUTER on the agents'
// endpoint and runs one thread ("sluice-lease") that owns it:
//   - answers Hello / SnapshotRequest / unknown agents with a RulesSnapshot
//     from the RuleCatalog, and pushes a RulesDelta to every known agent
//     within ~50 ms of a catalog change;
//   - answers Heartbeats, and forgets agents silent for agent_timeout;
//   - when an agent comes or goes, sends every agent a Heartbeat with the
//     new number of agents (their safe shares depend on it) at once,
//     rather than at their next heartbeat;
//   - answers LeaseRequests from one BucketAllocator per bucket
//     (common/allocator.h: the bucket's budget divided max-min fairly among
//     the agents using it), created on first use, reconfigured when its
//     rule changes, dropped when its rule goes or nobody uses it;
//   - forgets an agent (silent, or its connection closed): its demand and
//     share in every bucket are dropped, its leases lapse at expiry;
//   - after Start(), for learning_ms (restart safety, docs/leasing.md):
//     budgets start empty and keep no unclaimed refill, and a request that
//     gets no tokens gets no lease either (ttl 0), so the agent keeps its
//     old lease or its safe share; sluice_controller_learning is 1
//     meanwhile;
//   - hands UsageReports to the usage sink (usage_sink.h) without waiting,
//     and sends each UsageAck the sink has ready on its next tick;
//   - publishes the agents it knows to the agent directory
//     (agent_directory.h) a few times a second;
//   - several controllers (ClusterRelay, cluster_relay.h): adopts each
//     heartbeat outcome of the membership thread; sends Controllers after
//     every RulesSnapshot (once a set is in force) and to every agent when
//     the set changes, the set's version in every Heartbeat, and
//     Controllers to an agent that asked for buckets another member owns
//     (whose items get no lease); fenced or holding: see lease_ledger.h;
//   - refuses malformed frames with an ErrorMessage, never crashes.
// What to answer and when to forget is decided by LeaseLedger
// (lease_ledger.h, pure, where the rules above are stated exactly); this
// class receives, decodes, authorises (curve_gate.h), asks the ledger,
// encodes, sends, and publishes the ledger's counts (lease_metrics.h).
//
// Thread-safety: Start/Stop from one thread; the accessors are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/status.h"
#include "controller/catalog/rule_catalog.h"
#include "controller/cluster/cluster_mailbox.h"
#include "controller/cluster/cluster_view.h"
#include "controller/lease/agent_directory.h"
#include "controller/lease/curve_allowed_keys.h"
#include "controller/lease/usage_sink.h"

namespace prometheus {
class Registry;
}

namespace sluice {

struct LeaseServerOptions {
  std::string endpoint = "tcp://127.0.0.1:7070";  // ZeroMQ bind address
  int64_t lease_ttl_ms = 2000;                    // how long a grant is valid
  int64_t agent_timeout_ms = 5000;  // silent this long: agent forgotten
  // Controller restart safety: for this long after Start() (the longest
  // lease a previous incarnation could have granted), budgets start empty
  // and only fair shares of the refill are granted (see the header).
  int64_t learning_ms = 0;
  // Weights of agents (by the agent_id of their Hello) in the max-min
  // division of every bucket; agents not listed weigh 1.
  std::map<std::string, double> agent_weights;
  // CurveZMQ. With a secret key (Z85) the ROUTER is a CURVE server: the
  // channel is encrypted, a ZAP handler (controller/lease/curve_zap.h)
  // admits only agents whose public key is in *allowed_agent_keys, and every
  // message is checked against the live set, so an agent whose key is
  // revoked gets no answer from then on and is forgotten (curve_gate.h).
  // Empty: no encryption (the controller allows that on loopback only).
  std::string curve_secret_key;
  const AllowedAgentKeys* allowed_agent_keys = nullptr;  // required with a key
  // Usage analytics. Null sink: UsageReports are refused (ErrorMessage),
  // so agents keep them. Null directory: nothing is published.
  UsageSink* usage_sink = nullptr;
  AgentDirectory* agent_directory = nullptr;
  // Several controllers (docs/high-availability.md): this controller's
  // member id and advertised endpoint, the cluster timings, and the
  // mailbox where its membership thread leaves heartbeat outcomes. Null
  // mailbox: no set (version 0), this controller owns every bucket.
  ClusterMailbox* cluster = nullptr;
  std::string member_id;
  std::string member_endpoint;
  ClusterTimings cluster_timings;
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
  // Buckets with a budget, and (bucket, agent) pairs the allocators hold
  // state for, as of the last sweep (about once a second) or forget.
  int64_t tracked_buckets() const { return buckets_.load(); }
  int64_t tracked_bucket_agents() const { return bucket_agents_.load(); }

 private:
  class Impl;  // the thread's state: socket, ledger, metrics

  const LeaseServerOptions options_;
  RuleCatalog* const catalog_;
  const Clock* const clock_;
  prometheus::Registry* const registry_;
  std::unique_ptr<Impl> impl_;  // non-null while running
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::atomic<int64_t> agents_{0};
  std::atomic<int64_t> buckets_{0};
  std::atomic<int64_t> bucket_agents_{0};
};

}  // namespace sluice
