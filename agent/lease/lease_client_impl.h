// LeaseClient::Impl: the lease client's state and its thread's work
// (agent/lease/lease_client.h), private to agent/lease/:
//   - lease_client.cc: the sockets (the DEALER, CurveZMQ, the wake-up
//     pair), the thread's loop (Run, Tick), Submit and Stop;
//   - lease_client_messages.cc: the protocol: what each message from the
//     controller does, reachability, the rule set, lease requests and
//     their grants.
//
// Thread-safety: Submit() and RequestStop() from any thread (under mu_);
// everything else on the client's thread (or before it starts / after it
// joined).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "agent/lease/curve_handshake_watch.h"
#include "agent/lease/lease_client.h"
#include "agent/usage/usage_outbox.h"
#include "common/rule.h"
#include "common/wire.h"
#include "platform/mutex.h"

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
  void Submit(std::vector<LeaseWant> items) EXCLUDES(mu_);
  void SubmitUsage(UsageReport report) EXCLUDES(mu_);

 private:
  struct Sockets {
    zmq::context_t context;
    zmq::socket_t dealer{context, zmq::socket_type::dealer};
    zmq::socket_t wake_recv{context, zmq::socket_type::pair};
    zmq::socket_t wake_send{context, zmq::socket_type::pair};  // under mu_
    // CurveZMQ only: reconnects after a refused handshake.
    std::unique_ptr<CurveHandshakeWatch> handshake_watch;
  };
  // CurveZMQ client keys on the DEALER and the handshake watch (nothing
  // when no keys are given).
  Status ConfigureCurve(Sockets* sockets);

  void Tick() EXCLUDES(mu_);
  void HandleFrames(std::vector<zmq::message_t>* parts, int64_t now);
  void HandleSnapshot(RulesSnapshot* snapshot);
  void HandleDelta(const RulesDelta& delta, int64_t now);
  void HandleGrant(const LeaseGrant& grant, int64_t now);
  void CheckReachable(int64_t now);
  void FlushSubmits(int64_t now) EXCLUDES(mu_);
  void PrunePending(int64_t now);
  // Usage reports: new ones into the outbox, due ones out.
  void FlushUsage(int64_t now) EXCLUDES(mu_);
  void Wake() REQUIRES(mu_);

  void SetAgents(int64_t agents);
  void NotifyController();
  void PublishRules();
  void RequestSnapshot(int64_t now, std::string_view why);
  void SendHello();
  // False when the message could not be queued (not connected, or the
  // queue is full).
  bool Send(const WireMessage& message);
  // At most one warning per kWarnIntervalNanos; the rest are counted.
  void Warn(int64_t now, const std::string& message);

  LeaseClientOptions options_;
  const LeaseClientCallbacks callbacks_;
  const Clock* const clock_;
  LeaseClient* const owner_;  // for its atomics
  std::string routing_id_;
  std::atomic<bool> stop_{false};

  Mutex mu_;
  // Set by Open() on the client thread before Run(), reset by Close()
  // after that thread ended. Other threads use only wake_send, under mu_.
  std::unique_ptr<Sockets> sockets_ GUARDED_BY(mu_) PT_GUARDED_BY(mu_);
  std::vector<std::vector<LeaseWant>> queue_ GUARDED_BY(mu_);
  std::vector<UsageReport> usage_queue_ GUARDED_BY(mu_);
  bool wake_pending_ GUARDED_BY(mu_) = false;
  // sockets_.get(), for the client thread: its dealer and wake_recv.
  Sockets* io_ = nullptr;

  // Owned by the client thread (kept across Stop/Start).
  bool reachable_ = false;
  bool lost_before_ = false;  // was reachable, then was not
  int64_t agents_ = 1;
  bool notified_ = false;
  bool notified_reachable_ = false;
  int64_t notified_agents_ = 0;
  int64_t last_receive_ = 0;
  int64_t last_heartbeat_ = 0;
  bool hello_pending_ = false;
  bool snapshot_requested_ = false;
  int64_t last_snapshot_request_ = 0;
  bool have_rules_ = false;
  int64_t version_ = 0;
  std::map<int64_t, Rule> rules_;
  uint64_t next_seq_ = 1;
  std::map<uint64_t, int64_t> pending_;  // seq -> sent_at
  UsageOutbox usage_outbox_;
  int64_t last_warning_ = 0;
  bool warned_ = false;
  int64_t warnings_suppressed_ = 0;
};

}  // namespace sluice
