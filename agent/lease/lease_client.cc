#include "agent/lease/lease_client.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <future>
#include <iterator>
#include <random>
#include <string_view>
#include <utility>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "agent/lease/lease_client_impl.h"
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

LeaseClient::Impl::Impl(LeaseClientOptions options,
                        LeaseClientCallbacks callbacks, const Clock* clock,
                        LeaseClient* owner)
    : options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      clock_(clock),
      owner_(owner) {
  if (options_.agent_id.empty()) options_.agent_id = DefaultAgentId();
  routing_id_ = MakeRoutingId(options_.agent_id);
}

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
  MutexLock lock(&mu_);
  sockets_ = std::move(sockets);
  io_ = sockets_.get();
  queue_.clear();
  wake_pending_ = false;
  stop_.store(false);
  return Status::Ok();
}

void LeaseClient::Impl::Close() {
  MutexLock lock(&mu_);
  io_ = nullptr;
  sockets_.reset();
  queue_.clear();
  wake_pending_ = false;
}

void LeaseClient::Impl::RequestStop() {
  stop_.store(true);
  MutexLock lock(&mu_);
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
  MutexLock lock(&mu_);
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

void LeaseClient::Impl::SubmitUsage(UsageReport report) {
  MutexLock lock(&mu_);
  if (sockets_ == nullptr || stop_.load()) return;  // not running: dropped
  usage_queue_.push_back(std::move(report));
  Wake();
}

void LeaseClient::Impl::Wake() {
  if (wake_pending_) return;
  try {
    sockets_->wake_send.send(zmq::message_t(), zmq::send_flags::dontwait);
    wake_pending_ = true;
  } catch (const zmq::error_t& e) {
    LogWarn(kLog, std::string("could not wake the client thread: ") + e.what() +
                      "; the report goes at its next poll");
  }
}

void LeaseClient::Impl::FlushUsage(int64_t now) {
  std::vector<UsageReport> fresh;
  {
    MutexLock lock(&mu_);
    fresh.swap(usage_queue_);
  }
  for (UsageReport& report : fresh) usage_outbox_.Add(std::move(report));
  // Only while connected: a send to nobody would queue in ZeroMQ and be
  // counted as sent.
  if (reachable_) {
    usage_outbox_.SendDue(
        now, [this](const UsageReport& report) { return Send(report); });
  }
  owner_->usage_dropped_.store(usage_outbox_.dropped());
  owner_->usage_pending_.store(static_cast<int64_t>(usage_outbox_.size()));
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
  zmq::socket_t& dealer = io_->dealer;
  zmq::socket_t& wake = io_->wake_recv;
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
  if (io_->handshake_watch) io_->handshake_watch->Poll(now);
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
  FlushUsage(now);
}

bool LeaseClient::Impl::Send(const WireMessage& message) {
  const std::string bytes = EncodeWireMessage(message);
  return io_->dealer.send(zmq::buffer(bytes), zmq::send_flags::dontwait)
      .has_value();
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

void LeaseClient::SubmitUsage(UsageReport report) {
  impl_->SubmitUsage(std::move(report));
}

}  // namespace sluice
