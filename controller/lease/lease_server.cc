#include "controller/lease/lease_server.h"

#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <iterator>
#include <optional>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "common/wire.h"
#include "controller/lease/cluster_relay.h"
#include "controller/lease/curve_gate.h"
#include "controller/lease/lease_ledger.h"
#include "controller/lease/lease_metrics.h"
#include "controller/lease/log_names.h"
#include "controller/lease/usage_relay.h"
#include "platform/log.h"
#include "platform/wake_fd.h"

namespace sluice {
namespace {

constexpr std::string_view kLog = "lease-server";
// Upper bound on how late a catalog change is pushed and a Stop() is seen.
// Poll timeout, for what no message announces (usage acks, the controller
// set, keys, silent agents, the sweep); catalog changes and Stop() wake it.
constexpr std::chrono::milliseconds kPollInterval{100};
constexpr std::chrono::milliseconds kPollIntervalWithoutWake{20};
constexpr int kHighWaterMark = 10000;  // messages queued per peer
// Connections waiting to be accepted (ZeroMQ's default is 100; the kernel
// caps it at net.core.somaxconn). A fleet reconnecting at once after a
// restart overflows 100: the kernel drops the rest and each retries after
// TCP's backoff (1, 2, 4... s), so 3,000 agents took minutes to come back
// instead of 18 s (docs/scaling.md).
constexpr int kListenBacklog = 4096;
// Messages handled per wake-up before the catalog and timeouts are checked
// again, so a flood cannot delay a RulesDelta.
constexpr int kMaxMessagesPerTick = 1000;
// Warnings about bad frames logged per second; the rest are counted.
constexpr int kWarningsPerSecond = 10;

LeaseLedgerOptions LedgerOptions(const LeaseServerOptions& options) {
  LeaseLedgerOptions ledger;
  ledger.lease_ttl_ms = options.lease_ttl_ms;
  ledger.agent_timeout_ms = options.agent_timeout_ms;
  ledger.learning_ms = options.learning_ms;
  ledger.agent_weights = options.agent_weights;
  ledger.member_id = options.member_id;
  ledger.member_endpoint = options.member_endpoint;
  ledger.cluster_timings = options.cluster_timings;
  return ledger;
}

}  // namespace

// Everything below is owned by the server thread once Start() returns; only
// stop_ and the atomics behind metrics_ are shared.
class LeaseServer::Impl {
 public:
  Impl(const LeaseServerOptions& options, RuleCatalog* catalog,
       const Clock* clock, prometheus::Registry* registry,
       LeaseCountAtomics atomics)
      : options_(options),
        catalog_(catalog),
        clock_(clock),
        metrics_(registry, atomics),
        router_(context_, zmq::socket_type::router),
        usage_(options.usage_sink, options.agent_directory),
        cluster_(options.cluster, registry),
        catalog_listener_(catalog_->AddListener([this] { wake_.Signal(); })) {}
  ~Impl() { catalog_->RemoveListener(catalog_listener_); }

  Status Bind();
  void Run();
  void RequestStop() {
    stop_.store(true);
    wake_.Signal();
  }

 private:
  void Tick();
  void HandleFrames(std::vector<zmq::message_t>* parts, int64_t now);
  // Answers one decoded message from `peer` (an allowed one, with CURVE).
  void Dispatch(const std::string& peer, WireMessage& message, int64_t now);
  // After the ledger saw a message: publishes and logs a new agent; true
  // when it is new.
  bool Arrived(const std::string& peer, Arrival arrival);
  // With CURVE: whether the message's key is allowed now; if not, it is
  // dropped and its sender forgotten. Sets key_.
  bool Admit(const std::vector<zmq::message_t>& parts, const std::string& peer,
             int64_t now);
  // Takes a changed allowed set; forgets agents whose key left it.
  void RefreshAllowedKeys();
  // Pushes a RulesDelta to every agent when the catalog moved.
  void SyncCatalog(int64_t now);
  void OnUsageReport(const std::string& peer, UsageReport* report, int64_t now);

  void ForgetAgent(const std::string& peer, const std::string& why);
  void LogForgotten(const std::string& peer, const std::string& agent_id,
                    const std::string& why, size_t agents_left);
  void Broadcast(const WireMessage& message);
  void Send(const std::string& peer, const WireMessage& message);
  // The rules, then the controller set (once there is one).
  void SendSnapshot(const std::string& peer);
  void SendControllers(const std::string& peer);
  void SendBytes(const std::string& peer, const std::string& bytes);
  void WireError(const std::string& peer, int64_t now,
                 const std::string& message);
  // At most kWarningsPerSecond lines; the rest are counted.
  void Warn(int64_t now, const std::string& message);

  const LeaseServerOptions options_;
  RuleCatalog* const catalog_;
  const Clock* const clock_;
  LeaseMetrics metrics_;
  std::atomic<bool> stop_{false};
  WakeFd wake_;  // Stop() and catalog changes: before catalog_listener_

  zmq::context_t context_;
  zmq::socket_t router_;
  // CURVE only; after router_ so that it stops first.
  std::unique_ptr<CurveGate> gate_;
  std::string_view key_;  // key of the message being handled (CURVE)

  std::optional<LeaseLedger> ledger_;  // from Bind() on
  UsageRelay usage_;                   // reports, acks, the agent directory
  ClusterRelay cluster_;               // the controller set
  const int catalog_listener_;         // signals wake_

  int64_t warn_window_start_ = 0;
  int warnings_in_window_ = 0;
  int64_t warnings_suppressed_ = 0;
};

Status LeaseServer::Impl::Bind() {
  try {
    router_.set(zmq::sockopt::linger, 0);
    router_.set(zmq::sockopt::sndhwm, kHighWaterMark);
    router_.set(zmq::sockopt::backlog, kListenBacklog);
    router_.set(zmq::sockopt::rcvhwm, kHighWaterMark);
    router_.set(zmq::sockopt::maxmsgsize,
                static_cast<int64_t>(kMaxWireMessageBytes));
    // A reconnecting agent with the same routing id takes over its old
    // entry; a send to a peer that is gone fails (EHOSTUNREACH) instead of
    // vanishing, so the agent is forgotten at once.
    router_.set(zmq::sockopt::router_handover, true);
    router_.set(zmq::sockopt::router_mandatory, true);
    // CurveZMQ (server key, ZAP handler) is configured here, before bind.
    if (!options_.curve_secret_key.empty()) {
      StatusOr<std::unique_ptr<CurveGate>> gate =
          CurveGate::Configure(&context_, &router_, options_.curve_secret_key,
                               options_.allowed_agent_keys);
      if (!gate.ok()) return gate.status();
      gate_ = std::move(gate).value();
    }
    router_.bind(options_.endpoint);
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(
        "cannot bind the agents' endpoint '" + options_.endpoint +
        "': " + e.what() +
        "; expected a free, well-formed ZeroMQ address such as "
        "tcp://127.0.0.1:7070");
  }
  RuleCatalog::Snapshot snapshot = catalog_->Get();
  ledger_.emplace(LedgerOptions(options_), clock_->NowNanos(), snapshot.version,
                  std::move(snapshot.rules));
  metrics_.Publish(ledger_->counts());
  metrics_.PublishLearning(ledger_->learning(clock_->NowNanos()));
  return Status::Ok();
}

void LeaseServer::Impl::Run() {
  // Named for perf and top (tests/bench/controller_lease_cost.sh).
  pthread_setname_np(pthread_self(), "sluice-lease");
  while (!stop_.load()) {
    try {
      Tick();
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) break;
      if (e.num() != EINTR) {
        LogError(kLog, std::string("ZeroMQ error on the agents' socket: ") +
                           e.what() + "; continuing");
      }
    }
  }
  metrics_.PublishNoAgents();
}

void LeaseServer::Impl::Tick() {
  zmq::pollitem_t items[2] = {{router_.handle(), 0, ZMQ_POLLIN, 0},
                              {nullptr, wake_.fd(), ZMQ_POLLIN, 0}};
  zmq::poll(items, 2, wake_.ok() ? kPollInterval : kPollIntervalWithoutWake);
  if (items[1].revents & ZMQ_POLLIN) wake_.Drain();
  if (gate_ != nullptr) RefreshAllowedKeys();
  int64_t now = clock_->NowNanos();
  // Catalog first, so a snapshot sent below is the state deltas build on.
  SyncCatalog(now);
  if (items[0].revents & ZMQ_POLLIN) {
    for (int i = 0; i < kMaxMessagesPerTick && !stop_.load(); ++i) {
      std::vector<zmq::message_t> parts;
      if (!zmq::recv_multipart(router_, std::back_inserter(parts),
                               zmq::recv_flags::dontwait)) {
        break;
      }
      now = clock_->NowNanos();  // now, not at poll time
      HandleFrames(&parts, now);
      // A steady flow of messages does not hold up the sweep.
      ledger_->SweepIfDue(now);
      metrics_.Publish(ledger_->counts());
    }
  }
  usage_.Pump([this](const std::string& peer, const UsageAck& ack) {
    Send(peer, ack);
  });
  now = clock_->NowNanos();
  if (cluster_.Pump(&*ledger_, now)) {
    const Controllers set = ledger_->ControllersMessage();
    Broadcast(set);
    Broadcast(ledger_->HeartbeatReply());
  }
  cluster_.Publish(*ledger_, now);
  TickOutcome outcome = ledger_->Tick(now);
  metrics_.Publish(ledger_->counts());
  metrics_.PublishLearning(ledger_->learning(now));
  const std::string why = "silent for more than " +
                          std::to_string(options_.agent_timeout_ms) + " ms";
  size_t left = ledger_->agents().size() + outcome.forgotten.size();
  for (const ForgottenAgent& gone : outcome.forgotten) {
    LogForgotten(gone.peer, gone.agent_id, why, --left);
  }
  // Every agent's safe share depends on the number of agents.
  if (outcome.agent_count_changed) Broadcast(ledger_->HeartbeatReply());
}

void LeaseServer::Impl::HandleFrames(std::vector<zmq::message_t>* parts,
                                     int64_t now) {
  const std::string peer = (*parts)[0].to_string();
  if (gate_ != nullptr && !Admit(*parts, peer, now)) return;
  if (parts->size() != 2) {
    WireError(peer, now,
              "expected exactly one frame per message (a JSON wire message "
              "from a DEALER socket), got " +
                  std::to_string(parts->size() - 1));
    return;
  }
  StatusOr<WireMessage> decoded =
      DecodeWireMessage((*parts)[1].to_string_view());
  if (!decoded.ok()) {
    WireError(peer, now, decoded.status().message());
    return;
  }
  Dispatch(peer, decoded.value(), now);
}

void LeaseServer::Impl::Dispatch(const std::string& peer, WireMessage& message,
                                 int64_t now) {
  LeaseLedger& ledger = *ledger_;
  if (auto* request = std::get_if<LeaseRequest>(&message)) {
    // An unknown agent gets the rules first (common/wire.h).
    if (Arrived(peer, ledger.OnMessageFrom(peer, now, key_))) {
      SendSnapshot(peer);
    }
    LeaseGrant grant;
    if (!ledger.OnLeaseRequest(peer, *request, now, &grant)) return;
    metrics_.Publish(ledger.counts());  // before the agent can see the grant
    Send(peer, WireMessage(std::move(grant)));  // not copied
    // It asked for buckets another controller owns: tell it who that is.
    if (ledger.answered_unowned()) SendControllers(peer);
  } else if (const auto* hello = std::get_if<Hello>(&message)) {
    StatusOr<Arrival> arrival = ledger.OnHello(peer, *hello, now, key_);
    if (!arrival.ok()) {
      WireError(peer, now, arrival.status().message());
      return;
    }
    Arrived(peer, *arrival);
    SendSnapshot(peer);
  } else if (std::holds_alternative<SnapshotRequest>(message)) {
    Arrived(peer, ledger.OnMessageFrom(peer, now, key_));
    SendSnapshot(peer);
  } else if (std::holds_alternative<Heartbeat>(message)) {
    if (Arrived(peer, ledger.OnMessageFrom(peer, now, key_))) {
      SendSnapshot(peer);
    }
    Send(peer, ledger.HeartbeatReply());
  } else if (auto* report = std::get_if<UsageReport>(&message)) {
    OnUsageReport(peer, report, now);
    return;  // tracked there (the report is moved on)
  } else {
    WireError(peer, now,
              std::string("unexpected ") + WireTypeName(message) +
                  " from an agent; agents send Hello, SnapshotRequest, "
                  "Heartbeat, LeaseRequest or UsageReport");
    return;
  }
  if (const AgentRecord* agent = ledger.agents().Find(peer)) {
    usage_.Track(peer, agent->agent_id, message);
  }
}

void LeaseServer::Impl::OnUsageReport(const std::string& peer,
                                      UsageReport* report, int64_t now) {
  if (!usage_.has_sink()) {
    WireError(peer, now, "this controller keeps no usage analytics");
    return;
  }
  if (Arrived(peer, ledger_->OnMessageFrom(peer, now, key_))) {
    SendSnapshot(peer);
  }
  const AgentRecord* agent = ledger_->agents().Find(peer);
  usage_.Track(peer, agent != nullptr ? agent->agent_id : "", *report);
  if (!usage_.Offer(peer, report)) {
    Warn(now, "the usage queue is full: a report of agent " + PeerName(peer) +
                  " is left unacknowledged (the agent sends it again)");
  }
}

bool LeaseServer::Impl::Arrived(const std::string& peer, Arrival arrival) {
  if (arrival != Arrival::kNew) return false;
  // Published before the agent gets an answer, so that it sees them.
  metrics_.Publish(ledger_->counts());
  LogInfo(kLog, "agent " + PeerName(peer) + " connected (" +
                    std::to_string(ledger_->agents().size()) + " agents)");
  return true;
}

bool LeaseServer::Impl::Admit(const std::vector<zmq::message_t>& parts,
                              const std::string& peer, int64_t now) {
  if (const std::string* key = gate_->AllowedKeyOf(parts.back())) {
    key_ = *key;
    return true;
  }
  ForgetAgent(peer, "its CurveZMQ key is no longer allowed (revoked)");
  if (gate_->FirstRefusal(peer)) {
    const char* key = CurveGate::KeyOf(parts.back());
    Warn(now, "ignoring messages from agent " + PeerName(peer) +
                  (key != nullptr ? " with CurveZMQ key " + std::string(key)
                                  : std::string(" without a CurveZMQ key")) +
                  ": the key is not an allowed agent key (revoked)");
  }
  return false;
}

void LeaseServer::Impl::RefreshAllowedKeys() {
  if (!gate_->Refresh()) return;
  key_ = {};  // pointed into the set just replaced
  std::vector<std::string> revoked;
  ledger_->agents().ForEach(
      [&](const std::string& peer, const AgentRecord& agent) {
        if (!gate_->Allows(agent.curve_key)) revoked.push_back(peer);
      });
  for (const std::string& peer : revoked) {
    ForgetAgent(peer,
                "its CurveZMQ key was revoked; it gets no answer from now on");
  }
}

void LeaseServer::Impl::SyncCatalog(int64_t now) {
  if (catalog_->version() == ledger_->rules_version()) return;
  RuleCatalog::Snapshot snapshot = catalog_->Get();
  if (snapshot.version == ledger_->rules_version()) return;
  const RulesDelta delta = ledger_->OnCatalogChange(
      snapshot.version, std::move(snapshot.rules), now);
  Broadcast(delta);
}

void LeaseServer::Impl::ForgetAgent(const std::string& peer,
                                    const std::string& why) {
  std::string agent_id;
  if (!ledger_->Forget(peer, clock_->NowNanos(), &agent_id)) return;
  metrics_.Publish(ledger_->counts());
  LogForgotten(peer, agent_id, why, ledger_->agents().size());
}

void LeaseServer::Impl::LogForgotten(const std::string& peer,
                                     const std::string& agent_id,
                                     const std::string& why,
                                     size_t agents_left) {
  usage_.Forgotten(peer);
  const std::string name = agent_id.empty() ? PeerName(peer) : agent_id;
  LogInfo(kLog, "forgot agent '" + name + "': " + why + " (" +
                    std::to_string(agents_left) + " agents)");
}

void LeaseServer::Impl::Broadcast(const WireMessage& message) {
  const std::string bytes = EncodeWireMessage(message);
  // A copy: a failed send forgets its peer.
  std::vector<std::string> peers;
  ledger_->AppendPeers(&peers);
  for (const std::string& peer : peers) SendBytes(peer, bytes);
}

void LeaseServer::Impl::Send(const std::string& peer,
                             const WireMessage& message) {
  SendBytes(peer, EncodeWireMessage(message));
}

void LeaseServer::Impl::SendSnapshot(const std::string& peer) {
  Send(peer, ledger_->Snapshot());
  SendControllers(peer);
}

void LeaseServer::Impl::SendControllers(const std::string& peer) {
  if (ledger_->cluster().version() == 0) return;  // no set: owns everything
  Send(peer, ledger_->ControllersMessage());
}

void LeaseServer::Impl::SendBytes(const std::string& peer,
                                  const std::string& bytes) {
  try {
    if (!router_.send(zmq::buffer(peer),
                      zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      Warn(clock_->NowNanos(), "dropped a message to agent " + PeerName(peer) +
                                   ": its queue is full (" +
                                   std::to_string(kHighWaterMark) +
                                   " messages); it is not reading");
      return;
    }
    router_.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH) {
      ForgetAgent(peer, "disconnected");
      return;
    }
    throw;
  }
}

void LeaseServer::Impl::WireError(const std::string& peer, int64_t now,
                                  const std::string& message) {
  metrics_.CountWireError();
  Warn(now, "bad frame from peer " + PeerName(peer) + ": " + message);
  ErrorMessage error;
  error.message = message;
  Send(peer, error);
}

void LeaseServer::Impl::Warn(int64_t now, const std::string& message) {
  if (now - warn_window_start_ >= kNanosPerSecond || now < warn_window_start_) {
    if (warnings_suppressed_ > 0) {
      LogWarn(kLog, std::to_string(warnings_suppressed_) +
                        " more warnings were not logged");
    }
    warn_window_start_ = now;
    warnings_in_window_ = 0;
    warnings_suppressed_ = 0;
  }
  if (warnings_in_window_ < kWarningsPerSecond) {
    ++warnings_in_window_;
    LogWarn(kLog, message);
  } else {
    ++warnings_suppressed_;
  }
}

LeaseServer::LeaseServer(LeaseServerOptions options, RuleCatalog* catalog,
                         const Clock* clock, prometheus::Registry* registry)
    : options_(std::move(options)),
      catalog_(catalog),
      clock_(clock),
      registry_(registry) {}

LeaseServer::~LeaseServer() { Stop(); }

Status LeaseServer::Start() {
  if (running_.load()) {
    return Status::FailedPrecondition(
        "the lease server is already running on " + options_.endpoint +
        "; Stop() it before starting it again");
  }
  auto impl = std::make_unique<Impl>(
      options_, catalog_, clock_, registry_,
      LeaseCountAtomics{&agents_, &buckets_, &bucket_agents_});
  Status bound = impl->Bind();
  if (!bound.ok()) return bound;
  impl_ = std::move(impl);
  running_.store(true);
  thread_ = std::thread([impl = impl_.get()] { impl->Run(); });
  LogInfo(kLog, "listening for agents on " + options_.endpoint);
  return Status::Ok();
}

void LeaseServer::Stop() {
  if (!impl_) return;
  impl_->RequestStop();
  if (thread_.joinable()) thread_.join();
  impl_.reset();  // closes the socket; the port is free once this returns
  running_.store(false);
  agents_.store(0);
  buckets_.store(0);
  bucket_agents_.store(0);
}

}  // namespace sluice
