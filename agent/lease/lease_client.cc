#include "agent/lease/lease_client.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <future>
#include <iterator>
#include <map>
#include <random>
#include <string_view>
#include <utility>
#include <variant>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "agent/lease/curve_handshake_watch.h"
#include "platform/curve_keys.h"
#include "platform/log.h"
#include "platform/thread_priority.h"

namespace sluice {
namespace {

constexpr std::string_view kLog = "lease-client";
// Poll timeout: bounds how late a heartbeat or a reachability change is
// seen. Submit() and Stop() wake the thread at once through kWakeEndpoint.
constexpr std::chrono::milliseconds kPollInterval{20};
constexpr const char* kWakeEndpoint = "inproc://sluice-lease-client-wake";
constexpr int kReconnectIvlMs = 100;
constexpr int kReconnectIvlMaxMs = 1000;
constexpr int kHighWaterMark = 1000;
constexpr int kMaxMessagesPerTick = 1000;
// Buckets in one LeaseRequest (about 100 bytes of JSON each, so a few
// hundred KB at most, well under kMaxWireMessageBytes).
constexpr size_t kMaxItemsPerRequest = 4096;
// At most one SnapshotRequest per this interval.
constexpr int64_t kSnapshotRequestIntervalNanos = 250 * kNanosPerMilli;
// A request unanswered for this long is forgotten; its grant, if it ever
// comes, is ignored.
constexpr int64_t kPendingMaxAgeNanos = 60 * kNanosPerSecond;
constexpr int64_t kWarnIntervalNanos = kNanosPerSecond;

std::string DefaultAgentId() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
    std::string_view fallback = "agent";
    std::copy(fallback.begin(), fallback.end(), host);
  }
  return std::string(host) + ":" + std::to_string(getpid());
}

// The DEALER's routing id: the agent id (readable in the controller's logs)
// plus a random suffix, so two agents given the same --agent-id do not take
// over each other's connection. Stable for the client's life, so a
// reconnect is recognised (ROUTER_HANDOVER on the controller).
std::string MakeRoutingId(const std::string& agent_id) {
  std::random_device random;
  std::uniform_int_distribution<uint64_t> dist;
  static constexpr char kDigits[] = "0123456789abcdef";
  uint64_t bits = dist(random);
  std::string suffix(16, '0');
  for (char& c : suffix) {
    c = kDigits[bits & 15];
    bits >>= 4;
  }
  // ZeroMQ: 1..255 bytes, not starting with a zero byte.
  std::string id = agent_id.substr(0, 200);
  if (id.empty() || id[0] == '\0') id = "agent" + id;
  return id + "/" + suffix;
}

}  // namespace

class LeaseClient::Impl {
 public:
  Impl(LeaseClientOptions options, LeaseClientCallbacks callbacks,
       const Clock* clock, LeaseClient* owner)
      : options_(std::move(options)),
        callbacks_(std::move(callbacks)),
        clock_(clock),
        owner_(owner) {
    if (options_.agent_id.empty()) options_.agent_id = DefaultAgentId();
    routing_id_ = MakeRoutingId(options_.agent_id);
  }

  int nice_steps() const { return options_.background_nice; }
  Status Open();
  void Run();
  void Close();
  void RequestStop();
  void Submit(std::vector<LeaseWant> items);

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

  void Tick();
  void HandleFrames(std::vector<zmq::message_t>* parts, int64_t now);
  void HandleSnapshot(RulesSnapshot* snapshot);
  void HandleDelta(const RulesDelta& delta, int64_t now);
  void HandleGrant(const LeaseGrant& grant, int64_t now);
  void CheckReachable(int64_t now);
  void FlushSubmits(int64_t now);
  void PrunePending(int64_t now);

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

  std::mutex mu_;
  std::unique_ptr<Sockets> sockets_;           // set while running
  std::vector<std::vector<LeaseWant>> queue_;  // GUARDED_BY(mu_)
  bool wake_pending_ = false;                  // GUARDED_BY(mu_)

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
  int64_t last_warning_ = 0;
  bool warned_ = false;
  int64_t warnings_suppressed_ = 0;
};

Status LeaseClient::Impl::ConfigureCurve(Sockets* sockets) {
  const bool any = !options_.curve_public_key.empty() ||
                   !options_.curve_secret_key.empty() ||
                   !options_.controller_public_key.empty();
  if (!any) return Status::Ok();
  const bool all = !options_.curve_public_key.empty() &&
                   !options_.curve_secret_key.empty() &&
                   !options_.controller_public_key.empty();
  if (!all) {
    return Status::InvalidArgument(
        "CurveZMQ needs this agent's keypair (--curve-secret-key-file) and "
        "the controller's public key (--controller-public-key) together; "
        "give both, or neither for a plain loopback channel",
        "controller-public-key");
  }
  StatusOr<std::string> server =
      DecodeCurveKey(options_.controller_public_key, "controller-public-key");
  if (!server.ok()) return server.status();
  StatusOr<std::string> public_key =
      DecodeCurveKey(options_.curve_public_key, "the agent's public key");
  if (!public_key.ok()) return public_key.status();
  StatusOr<std::string> secret_key =
      DecodeCurveKey(options_.curve_secret_key, "the agent's secret key");
  if (!secret_key.ok()) return secret_key.status();
  zmq::socket_t& dealer = sockets->dealer;
  dealer.set(zmq::sockopt::curve_serverkey, *server);
  dealer.set(zmq::sockopt::curve_publickey, *public_key);
  dealer.set(zmq::sockopt::curve_secretkey, *secret_key);
  sockets->handshake_watch = std::make_unique<CurveHandshakeWatch>(
      sockets->context, &dealer, options_.endpoint, options_.curve_public_key);
  return Status::Ok();
}

Status LeaseClient::Impl::Open() {
  auto sockets = std::make_unique<Sockets>();
  try {
    zmq::socket_t& dealer = sockets->dealer;
    dealer.set(zmq::sockopt::linger, 0);
    dealer.set(zmq::sockopt::routing_id, routing_id_);
    dealer.set(zmq::sockopt::reconnect_ivl, kReconnectIvlMs);
    dealer.set(zmq::sockopt::reconnect_ivl_max, kReconnectIvlMaxMs);
    // Queue nothing for a controller that is not connected: a backlog of
    // stale heartbeats and lease requests must not reach a new one.
    dealer.set(zmq::sockopt::immediate, true);
    dealer.set(zmq::sockopt::sndhwm, kHighWaterMark);
    dealer.set(zmq::sockopt::rcvhwm, kHighWaterMark);
    dealer.set(zmq::sockopt::maxmsgsize,
               static_cast<int64_t>(kMaxWireMessageBytes));
    // CurveZMQ client keys are configured here, before connect.
    Status curve = ConfigureCurve(sockets.get());
    if (!curve.ok()) return curve;
    sockets->wake_recv.set(zmq::sockopt::linger, 0);
    sockets->wake_send.set(zmq::sockopt::linger, 0);
    sockets->wake_recv.bind(kWakeEndpoint);
    sockets->wake_send.connect(kWakeEndpoint);
    dealer.connect(options_.endpoint);
  } catch (const zmq::error_t& e) {
    return Status::InvalidArgument(
        "cannot connect to the controller at '" + options_.endpoint +
            "': " + e.what() +
            "; expected a ZeroMQ address such as tcp://127.0.0.1:7070",
        "controller");
  }
  std::lock_guard<std::mutex> lock(mu_);
  sockets_ = std::move(sockets);
  queue_.clear();
  wake_pending_ = false;
  stop_.store(false);
  return Status::Ok();
}

void LeaseClient::Impl::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  sockets_.reset();
  queue_.clear();
  wake_pending_ = false;
}

void LeaseClient::Impl::RequestStop() {
  stop_.store(true);
  std::lock_guard<std::mutex> lock(mu_);
  if (sockets_ == nullptr) return;
  try {
    sockets_->wake_send.send(zmq::message_t(), zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    // The thread still sees stop_ within one poll interval.
    LogWarn(kLog, std::string("could not wake the client thread: ") + e.what() +
                      "; it stops at its next poll");
  }
}

void LeaseClient::Impl::Submit(std::vector<LeaseWant> items) {
  std::lock_guard<std::mutex> lock(mu_);
  if (sockets_ == nullptr || stop_.load()) return;  // not running: dropped
  queue_.push_back(std::move(items));
  if (wake_pending_) return;
  try {
    sockets_->wake_send.send(zmq::message_t(), zmq::send_flags::dontwait);
    wake_pending_ = true;
  } catch (const zmq::error_t& e) {
    // Not fatal: the queue is flushed at the next poll anyway.
    LogWarn(kLog, std::string("could not wake the client thread: ") + e.what() +
                      "; the request goes at its next poll");
  }
}

void LeaseClient::Impl::Run() {
  const int64_t now = clock_->NowNanos();
  reachable_ = false;
  owner_->reachable_.store(false);
  last_receive_ = now;
  last_heartbeat_ = now;
  snapshot_requested_ = false;
  SendHello();
  while (!stop_.load()) {
    try {
      Tick();
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) break;
      if (e.num() != EINTR) {
        LogError(kLog, std::string("ZeroMQ error on the controller socket: ") +
                           e.what() + "; continuing");
      }
    }
  }
  reachable_ = false;
  owner_->reachable_.store(false);
}

void LeaseClient::Impl::Tick() {
  zmq::socket_t& dealer = sockets_->dealer;
  zmq::socket_t& wake = sockets_->wake_recv;
  zmq::pollitem_t items[] = {{dealer.handle(), 0, ZMQ_POLLIN, 0},
                             {wake.handle(), 0, ZMQ_POLLIN, 0}};
  zmq::poll(items, 2, kPollInterval);
  if (items[1].revents & ZMQ_POLLIN) {
    zmq::message_t ignored;
    while (wake.recv(ignored, zmq::recv_flags::dontwait)) {
    }
  }
  if (stop_.load()) return;
  if (items[0].revents & ZMQ_POLLIN) {
    for (int i = 0; i < kMaxMessagesPerTick; ++i) {
      std::vector<zmq::message_t> parts;
      if (!zmq::recv_multipart(dealer, std::back_inserter(parts),
                               zmq::recv_flags::dontwait)) {
        break;
      }
      HandleFrames(&parts, clock_->NowNanos());
    }
  }
  const int64_t now = clock_->NowNanos();
  if (sockets_->handshake_watch) sockets_->handshake_watch->Poll(now);
  CheckReachable(now);
  if (hello_pending_) SendHello();
  if (now - last_heartbeat_ >= options_.heartbeat_ms * kNanosPerMilli) {
    Heartbeat heartbeat;
    heartbeat.rules_version = version_;
    Send(heartbeat);  // not connected: the next one will do
    last_heartbeat_ = now;
  }
  FlushSubmits(now);
  PrunePending(now);
}

void LeaseClient::Impl::HandleFrames(std::vector<zmq::message_t>* parts,
                                     int64_t now) {
  // Any frame shows the controller is there.
  last_receive_ = now;
  if (!reachable_) {
    reachable_ = true;
    owner_->reachable_.store(true);
    LogInfo(kLog, "controller at " + options_.endpoint + " is reachable");
    NotifyController();
    // It may be a restarted controller: introduce ourselves again.
    if (lost_before_) SendHello();
  }
  if (parts->size() != 1) {
    Warn(now, "ignored a message of " + std::to_string(parts->size()) +
                  " frames from the controller; expected one frame");
    return;
  }
  StatusOr<WireMessage> decoded =
      DecodeWireMessage((*parts)[0].to_string_view());
  if (!decoded.ok()) {
    Warn(now, "ignored a bad message from the controller: " +
                  decoded.status().message());
    return;
  }
  WireMessage& message = decoded.value();
  if (auto* snapshot = std::get_if<RulesSnapshot>(&message)) {
    HandleSnapshot(snapshot);
  } else if (const auto* delta = std::get_if<RulesDelta>(&message)) {
    HandleDelta(*delta, now);
  } else if (const auto* heartbeat = std::get_if<Heartbeat>(&message)) {
    SetAgents(heartbeat->agents);
    if (!have_rules_ || heartbeat->rules_version != version_) {
      RequestSnapshot(now, "the controller is at rules version " +
                               std::to_string(heartbeat->rules_version));
    }
  } else if (const auto* grant = std::get_if<LeaseGrant>(&message)) {
    HandleGrant(*grant, now);
  } else if (const auto* error = std::get_if<ErrorMessage>(&message)) {
    Warn(now, "the controller refused a message: " + error->message);
  } else {
    Warn(now, std::string("ignored a message only agents send (") +
                  (std::holds_alternative<Hello>(message) ? "Hello"
                   : std::holds_alternative<SnapshotRequest>(message)
                       ? "SnapshotRequest"
                       : "LeaseRequest") +
                  ") from the controller; it sends RulesSnapshot, RulesDelta, "
                  "Heartbeat, LeaseGrant or ErrorMessage");
  }
}

void LeaseClient::Impl::HandleSnapshot(RulesSnapshot* snapshot) {
  snapshot_requested_ = false;
  SetAgents(snapshot->agents);
  std::map<int64_t, Rule> next;
  for (Rule& rule : snapshot->rules) {
    const int64_t id = rule.id;
    next[id] = std::move(rule);
  }
  const bool changed =
      !have_rules_ || snapshot->version != version_ || next != rules_;
  rules_ = std::move(next);
  version_ = snapshot->version;
  have_rules_ = true;
  if (changed) PublishRules();
}

void LeaseClient::Impl::HandleDelta(const RulesDelta& delta, int64_t now) {
  if (!have_rules_ || delta.base_version != version_) {
    RequestSnapshot(
        now, "a delta from version " + std::to_string(delta.base_version) +
                 " arrived while this agent is at " + std::to_string(version_));
    return;
  }
  for (const Rule& rule : delta.upserts) rules_[rule.id] = rule;
  for (int64_t id : delta.deletes) rules_.erase(id);
  version_ = delta.version;
  PublishRules();
}

void LeaseClient::Impl::HandleGrant(const LeaseGrant& grant, int64_t now) {
  auto it = pending_.find(grant.seq);
  if (it == pending_.end()) {
    Warn(now, "ignored a grant for request " + std::to_string(grant.seq) +
                  ", which is not outstanding (answered already or too old)");
    return;
  }
  const int64_t sent_at = it->second;
  pending_.erase(it);
  if (callbacks_.on_grant) callbacks_.on_grant(grant, sent_at);
}

void LeaseClient::Impl::CheckReachable(int64_t now) {
  if (!reachable_ ||
      now - last_receive_ <= options_.reachable_timeout_ms * kNanosPerMilli) {
    return;
  }
  reachable_ = false;
  lost_before_ = true;
  owner_->reachable_.store(false);
  LogWarn(kLog, "controller at " + options_.endpoint +
                    " is unreachable: nothing heard for " +
                    std::to_string(options_.reachable_timeout_ms) + " ms");
  NotifyController();
}

void LeaseClient::Impl::FlushSubmits(int64_t now) {
  std::vector<std::vector<LeaseWant>> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch.swap(queue_);
    wake_pending_ = false;
  }
  int64_t dropped = 0;
  LeaseRequest request;
  auto send = [&] {
    request.seq = next_seq_++;
    pending_[request.seq] = clock_->NowNanos();
    if (!Send(request)) {
      pending_.erase(request.seq);
      ++dropped;
    }
    request.items.clear();
  };
  // One request per Submit(), split only when it is very large (a sweep
  // of a big table) to keep messages well under kMaxWireMessageBytes.
  for (std::vector<LeaseWant>& items : batch) {
    if (!reachable_) {
      ++dropped;
      continue;
    }
    if (items.size() <= kMaxItemsPerRequest) {
      request.items.swap(items);
      send();
      continue;
    }
    for (LeaseWant& want : items) {
      request.items.push_back(std::move(want));
      if (request.items.size() == kMaxItemsPerRequest) send();
    }
    if (!request.items.empty()) send();
  }
  if (dropped > 0) {
    Warn(now, "dropped " + std::to_string(dropped) +
                  " lease requests: the controller at " + options_.endpoint +
                  " is not reachable (buckets retry)");
  }
}

void LeaseClient::Impl::PrunePending(int64_t now) {
  // Seqs grow with time, so the oldest requests come first.
  while (!pending_.empty() &&
         now - pending_.begin()->second > kPendingMaxAgeNanos) {
    pending_.erase(pending_.begin());
  }
}

void LeaseClient::Impl::SetAgents(int64_t agents) {
  agents_ = std::max<int64_t>(1, agents);
  owner_->agents_.store(agents_);
  NotifyController();
}

void LeaseClient::Impl::NotifyController() {
  if (notified_ && notified_reachable_ == reachable_ &&
      notified_agents_ == agents_) {
    return;
  }
  notified_ = true;
  notified_reachable_ = reachable_;
  notified_agents_ = agents_;
  if (callbacks_.on_controller) callbacks_.on_controller(reachable_, agents_);
}

void LeaseClient::Impl::PublishRules() {
  owner_->rules_version_.store(version_);
  if (!callbacks_.on_rules) return;
  std::vector<Rule> rules;
  rules.reserve(rules_.size());
  for (const auto& entry : rules_) rules.push_back(entry.second);
  callbacks_.on_rules(RuleIndex::Build(std::move(rules), version_));
}

void LeaseClient::Impl::RequestSnapshot(int64_t now, std::string_view why) {
  if (snapshot_requested_ &&
      now - last_snapshot_request_ < kSnapshotRequestIntervalNanos &&
      now >= last_snapshot_request_) {
    return;
  }
  if (Send(SnapshotRequest{})) {
    snapshot_requested_ = true;
    last_snapshot_request_ = now;
    LogInfo(kLog,
            "asked the controller for a rules snapshot: " + std::string(why));
  }
}

void LeaseClient::Impl::SendHello() {
  Hello hello;
  hello.agent_id = options_.agent_id;
  hello.rules_version = have_rules_ ? version_ : 0;
  hello_pending_ = !Send(hello);
}

bool LeaseClient::Impl::Send(const WireMessage& message) {
  const std::string bytes = EncodeWireMessage(message);
  return sockets_->dealer.send(zmq::buffer(bytes), zmq::send_flags::dontwait)
      .has_value();
}

void LeaseClient::Impl::Warn(int64_t now, const std::string& message) {
  if (warned_ && now - last_warning_ < kWarnIntervalNanos &&
      now >= last_warning_) {
    ++warnings_suppressed_;
    return;
  }
  std::string line = message;
  if (warnings_suppressed_ > 0) {
    line += " (" + std::to_string(warnings_suppressed_) +
            " earlier warnings not logged)";
  }
  LogWarn(kLog, line);
  warned_ = true;
  last_warning_ = now;
  warnings_suppressed_ = 0;
}

LeaseClient::LeaseClient(LeaseClientOptions options,
                         LeaseClientCallbacks callbacks, const Clock* clock)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(callbacks),
                                   clock, this)) {}

LeaseClient::~LeaseClient() { Stop(); }

Status LeaseClient::Start() {
  if (thread_.joinable()) {
    return Status::FailedPrecondition(
        "the lease client is already running; Stop() it before starting it "
        "again");
  }
  // The sockets are made on the client's thread, after it lowered its
  // priority: ZeroMQ's I/O thread, started with the first socket, inherits
  // it. (They are used only there until Stop() joins it.)
  // The promise moves into the thread, so the state it shares with
  // `result` outlives set_value() whatever this thread does meanwhile.
  std::promise<Status> opened;
  std::future<Status> result = opened.get_future();
  thread_ = std::thread([impl = impl_.get(), nice = impl_->nice_steps(),
                         opened = std::move(opened)]() mutable {
    Status lowered = LowerThisThreadPriority(nice);
    if (!lowered.ok()) LogWarn(kLog, lowered.message());
    Status status = impl->Open();
    const bool ok = status.ok();
    opened.set_value(std::move(status));
    if (ok) impl->Run();
  });
  Status status = result.get();
  if (!status.ok()) {
    thread_.join();
    return status;
  }
  return Status::Ok();
}

void LeaseClient::Stop() {
  if (!thread_.joinable()) return;
  impl_->RequestStop();
  thread_.join();
  impl_->Close();
}

void LeaseClient::Submit(std::vector<LeaseWant> items) {
  impl_->Submit(std::move(items));
}

}  // namespace sluice
