// LeaseClient::Impl: the lease client's state and its thread's work
// (agent/lease/lease_client.h), private to agent/lease/:
//   - lease_client.cc: the sockets (one DEALER per controller, CurveZMQ,
//     the wake-up pair), the thread's loop (Run, Tick), Submit and Stop;
//   - lease_client_messages.cc: the protocol: what each message from a
//     controller does, reachability, the rule set, lease requests and
//     their grants;
//   - lease_client_cluster.cc: several controllers: the controller set,
//     learned connections, routing (agent/check/owner_map.h).
//
// Thread-safety: Submit() and RequestStop() from any thread (under mu_);
// everything else on the client's thread (or before it starts / after it
// joined).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "agent/check/owner_map.h"
#include "agent/lease/curve_handshake_watch.h"
#include "agent/lease/lease_client.h"
#include "agent/usage/usage_outbox.h"
#include "common/rule.h"
#include "common/wire.h"
#include "platform/mutex.h"
#include "platform/wake_fd.h"

namespace sluice {

class LeaseClient::Impl {
 public:
  Impl(LeaseClientOptions options, LeaseClientCallbacks callbacks,
       const Clock* clock, LeaseClient* owner);

  int nice_steps() const { return options_.background_nice; }
  Status Open() EXCLUDES(mu_);
  void Run() EXCLUDES(mu_);
  void Close() EXCLUDES(mu_);
  void RequestStop() EXCLUDES(mu_);
  // Run() returns once no usage report waits (queued or unacknowledged)
  // and no lease request to a reachable controller waits for its grant,
  // once no controller is reachable, or when the steady clock reaches
  // `until`.
  void RequestDrain(std::chrono::steady_clock::time_point until) EXCLUDES(mu_);
  void Submit(std::vector<LeaseWant> items) EXCLUDES(mu_);
  void Summarize(std::vector<LeaseWant> items) EXCLUDES(mu_);
  void SubmitUsage(UsageReport report) EXCLUDES(mu_);
  void Flush(std::chrono::steady_clock::time_point until) EXCLUDES(mu_);

 private:
  // One controller: its DEALER and what the client knows of it.
  struct Connection {
    std::string endpoint;
    uint64_t serial = 0;  // unique for the client's life (pending requests)
    bool given = false;   // from --controller; learned ones may be dropped
    std::unique_ptr<zmq::socket_t> dealer;
    // CurveZMQ only: reconnects after a refused handshake.
    std::unique_ptr<CurveHandshakeWatch> handshake_watch;
    bool reachable = false;
    bool lost_before = false;  // was reachable, then was not
    int64_t last_receive = 0;
    int64_t agents = 1;
    std::string self_id;  // its member id (Controllers.self_id)
    bool hello_pending = false;
    bool snapshot_requested = false;
    int64_t last_snapshot_request = 0;
  };
  struct Sockets {
    zmq::context_t context;
    WakeFd wake;  // Signal() by other threads, under mu_
    std::vector<std::unique_ptr<Connection>> connections;
  };
  // A connected DEALER for `endpoint` (CurveZMQ keys and watch when given).
  Status Connect(Sockets* sockets, const std::string& endpoint, bool given);
  // CurveZMQ client keys on the DEALER and the handshake watch (nothing
  // when no keys are given).
  Status ConfigureCurve(Sockets* sockets, Connection* connection);

  void Tick() EXCLUDES(mu_);
  void PollConnections();
  // How long PollConnections() may wait: until the next heartbeat is due,
  // at most kPollIntervalMs.
  std::chrono::milliseconds PollTimeout() const;
  void HandleFrames(Connection* c, std::vector<zmq::message_t>* parts,
                    int64_t now);
  void HandleHeartbeat(Connection* c, const Heartbeat& heartbeat, int64_t now);
  void HandleSnapshot(Connection* c, RulesSnapshot* snapshot);
  void HandleDelta(Connection* c, const RulesDelta& delta, int64_t now);
  void HandleGrant(const LeaseGrant& grant, int64_t now);
  void HandleControllers(Connection* c, const Controllers& message,
                         int64_t now);
  void CheckReachable(int64_t now);
  void FlushSubmits(int64_t now) EXCLUDES(mu_);
  // Splits items by the connection serving each bucket; -1: none.
  void RouteItems(std::vector<LeaseWant>* items,
                  std::map<int, std::vector<LeaseWant>>* out);
  void SendRequests(Connection* c, std::vector<LeaseWant>* items,
                    int64_t* dropped);
  void PrunePending(int64_t now);
  // Usage reports: new ones into the outbox, due ones out (to one
  // reachable controller).
  void FlushUsage(int64_t now) EXCLUDES(mu_);
  // A drain was asked for and is over (RequestDrain).
  bool Drained() EXCLUDES(mu_);
  // A lease request to a reachable controller waits for its grant.
  bool AwaitingGrants() const;
  void Wake() REQUIRES(mu_);

  // Several controllers: connects to members no connection serves, drops
  // learned connections that left the set, and rebuilds the routing.
  void FollowSet(int64_t now);
  void RebuildOwners();
  bool single_controller() const { return io_->connections.size() == 1; }

  void SetAgents(Connection* c, int64_t agents);
  void NotifyController();
  void PublishRules();
  void RequestSnapshot(Connection* c, int64_t now, std::string_view why);
  void SendHello(Connection* c);
  // False when the message could not be queued (not connected, or the
  // queue is full).
  bool Send(Connection* c, const WireMessage& message);
  // At most one warning per kWarnIntervalNanos; the rest are counted.
  void Warn(int64_t now, const std::string& message);

  LeaseClientOptions options_;
  const LeaseClientCallbacks callbacks_;
  const Clock* const clock_;
  LeaseClient* const owner_;  // for its atomics
  std::string routing_id_;
  std::atomic<bool> stop_{false};
  // RequestDrain's `until`, in steady_clock nanoseconds; 0: no drain.
  std::atomic<int64_t> drain_deadline_{0};

  Mutex mu_;
  // Set by Open() on the client thread before Run(), reset by Close()
  // after that thread ended. Other threads use only wake, under mu_.
  std::unique_ptr<Sockets> sockets_ GUARDED_BY(mu_) PT_GUARDED_BY(mu_);
  std::vector<std::vector<LeaseWant>> queue_ GUARDED_BY(mu_);
  // Batches given to Summarize(): for on_submitted only, never sent.
  std::vector<std::vector<LeaseWant>> unsent_ GUARDED_BY(mu_);
  std::vector<UsageReport> usage_queue_ GUARDED_BY(mu_);
  // Batches given to Submit() and Summarize() so far, and how many of
  // them FlushSubmits() has handled (Flush() waits on taken_cv_).
  uint64_t batches_given_ GUARDED_BY(mu_) = 0;
  uint64_t batches_taken_ GUARDED_BY(mu_) = 0;
  CondVar taken_cv_;
  bool wake_pending_ GUARDED_BY(mu_) = false;
  // sockets_.get(), for the client thread: its connections and wake.
  Sockets* io_ = nullptr;

  // Owned by the client thread (kept across Stop/Start).
  int64_t agents_ = 1;  // the largest any reachable controller reports
  bool notified_ = false;
  bool notified_reachable_ = false;
  int64_t notified_agents_ = 0;
  int64_t last_heartbeat_ = 0;
  bool have_rules_ = false;
  int64_t version_ = 0;
  std::map<int64_t, Rule> rules_;
  uint64_t next_seq_ = 1;
  // Lease requests waiting for their grant, by seq.
  struct PendingRequest {
    int64_t sent_at = 0;
    uint64_t connection = 0;  // Connection::serial
  };
  std::map<uint64_t, PendingRequest> pending_;
  uint64_t next_connection_serial_ = 1;
  ControllerSet set_;                       // the highest version seen
  std::shared_ptr<const OwnerMap> owners_;  // rebuilt on every change
  bool follow_pending_ = false;             // the set or a member's id changed
  std::string key_scratch_;
  UsageOutbox usage_outbox_;
  int64_t last_warning_ = 0;
  bool warned_ = false;
  int64_t warnings_suppressed_ = 0;
};

}  // namespace sluice
