#include "agent/lease/lease_client.h"

#include <pthread.h>
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

#include "agent/lease/controller_plan.h"
#include "agent/lease/lease_client_impl.h"
#include "platform/curve_keys.h"
#include "platform/log.h"
#include "platform/thread_priority.h"

namespace sluice {
namespace {

constexpr std::string_view kLog = "lease-client";
// Poll timeout, at most: bounds how late a reachability change or a
// handshake timeout is seen (heartbeats shorten it: they leave on time).
// Messages, Submit() and Stop() wake the thread at once (Stop() and Submit()
// through an eventfd, Sockets::wake), so an idle agent wakes ten times a
// second, not fifty (each wake-up costs tens of microseconds on a virtual
// machine). Without an eventfd (WakeFd::ok()), 20 ms.
constexpr int64_t kPollIntervalMs = 100;
constexpr int64_t kPollIntervalWithoutWakeMs = 20;
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

// The drain is bounded in real time, whatever the injected clock does: a
// stopping agent must not wait on a clock that a test holds still.
int64_t SteadyNanos(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             t.time_since_epoch())
      .count();
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

Status LeaseClient::Impl::ConfigureCurve(Sockets* sockets,
                                         Connection* connection) {
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
  zmq::socket_t& dealer = *connection->dealer;
  dealer.set(zmq::sockopt::curve_serverkey, *server);
  dealer.set(zmq::sockopt::curve_publickey, *public_key);
  dealer.set(zmq::sockopt::curve_secretkey, *secret_key);
  connection->handshake_watch = std::make_unique<CurveHandshakeWatch>(
      sockets->context, &dealer, connection->endpoint,
      options_.curve_public_key);
  return Status::Ok();
}

Status LeaseClient::Impl::Connect(Sockets* sockets, const std::string& endpoint,
                                  bool given) {
  auto connection = std::make_unique<Connection>();
  connection->endpoint = endpoint;
  connection->serial = next_connection_serial_++;
  connection->given = given;
  try {
    connection->dealer = std::make_unique<zmq::socket_t>(
        sockets->context, zmq::socket_type::dealer);
    zmq::socket_t& dealer = *connection->dealer;
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
    Status curve = ConfigureCurve(sockets, connection.get());
    if (!curve.ok()) return curve;
    dealer.connect(endpoint);
  } catch (const zmq::error_t& e) {
    return Status::InvalidArgument(
        "cannot connect to the controller at '" + endpoint + "': " + e.what() +
            "; expected a ZeroMQ address such as tcp://127.0.0.1:7070",
        "controller");
  }
  connection->last_receive = clock_->NowNanos();
  sockets->connections.push_back(std::move(connection));
  return Status::Ok();
}

Status LeaseClient::Impl::Open() {
  StatusOr<std::vector<std::string>> endpoints =
      SplitControllerEndpoints(options_.endpoint);
  if (!endpoints.ok()) return endpoints.status();
  auto sockets = std::make_unique<Sockets>();
  if (!sockets->wake.ok()) {
    LogWarn(kLog,
            "no eventfd for waking the lease client (file descriptors "
            "exhausted?): it polls every 20 ms instead");
  }
  for (const std::string& endpoint : *endpoints) {
    Status status = Connect(sockets.get(), endpoint, /*given=*/true);
    if (!status.ok()) return status;
  }
  MutexLock lock(&mu_);
  sockets_ = std::move(sockets);
  io_ = sockets_.get();
  queue_.clear();
  unsent_.clear();
  wake_pending_ = false;
  batches_taken_ = batches_given_;  // what was queued is gone
  stop_.store(false);
  drain_deadline_.store(0);
  return Status::Ok();
}

void LeaseClient::Impl::Close() {
  MutexLock lock(&mu_);
  io_ = nullptr;
  sockets_.reset();
  queue_.clear();
  unsent_.clear();
  wake_pending_ = false;
  batches_taken_ = batches_given_;
}

void LeaseClient::Impl::RequestDrain(
    std::chrono::steady_clock::time_point until) {
  drain_deadline_.store(std::max<int64_t>(1, SteadyNanos(until)));
  MutexLock lock(&mu_);
  if (sockets_ == nullptr) return;
  sockets_->wake.Signal();
}

bool LeaseClient::Impl::Drained() {
  const int64_t deadline = drain_deadline_.load();
  if (deadline == 0) return false;
  if (SteadyNanos(std::chrono::steady_clock::now()) >= deadline) return true;
  const bool any_reachable =
      std::any_of(io_->connections.begin(), io_->connections.end(),
                  [](const auto& c) { return c->reachable; });
  if (!any_reachable) return true;
  if (AwaitingGrants()) return false;
  MutexLock lock(&mu_);
  return usage_queue_.empty() && usage_outbox_.size() == 0;
}

// The grants of a stopping agent's last reports tell that each owner has
// counted what its buckets spent; a controller that went away answers
// nothing, so its requests are not waited for.
bool LeaseClient::Impl::AwaitingGrants() const {
  for (const auto& entry : pending_) {
    for (const auto& c : io_->connections) {
      if (c->serial == entry.second.connection && c->reachable) return true;
    }
  }
  return false;
}

void LeaseClient::Impl::RequestStop() {
  stop_.store(true);
  MutexLock lock(&mu_);
  if (sockets_ == nullptr) return;
  sockets_->wake.Signal();
}

void LeaseClient::Impl::Submit(std::vector<LeaseWant> items) {
  MutexLock lock(&mu_);
  if (sockets_ == nullptr || stop_.load()) return;  // not running: dropped
  queue_.push_back(std::move(items));
  ++batches_given_;
  Wake();
}

void LeaseClient::Impl::Summarize(std::vector<LeaseWant> items) {
  MutexLock lock(&mu_);
  if (sockets_ == nullptr || stop_.load()) return;  // not running: dropped
  unsent_.push_back(std::move(items));  // no hurry: taken at the next tick
  ++batches_given_;
}

void LeaseClient::Impl::Flush(std::chrono::steady_clock::time_point until) {
  MutexLock lock(&mu_);
  const uint64_t target = batches_given_;
  if (sockets_ == nullptr || stop_.load() || batches_taken_ >= target) return;
  Wake();
  while (batches_taken_ < target) {
    if (!taken_cv_.WaitUntil(&mu_, until)) return;  // `until` passed
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
  sockets_->wake.Signal();  // one write(2); none while one is pending
  wake_pending_ = true;
}

void LeaseClient::Impl::FlushUsage(int64_t now) {
  std::vector<UsageReport> fresh;
  {
    MutexLock lock(&mu_);
    fresh.swap(usage_queue_);
  }
  for (UsageReport& report : fresh) usage_outbox_.Add(std::move(report));
  // To one reachable controller (the first given, as lease requests with
  // no set; the database deduplicates a report sent to two), and only
  // while connected: a send to nobody would queue in ZeroMQ and be counted
  // as sent.
  Connection* target = nullptr;
  for (const auto& c : io_->connections) {
    if (c->reachable) {
      target = c.get();
      break;
    }
  }
  if (target != nullptr) {
    usage_outbox_.SendDue(now, [this, target](const UsageReport& report) {
      return Send(target, report);
    });
  }
  owner_->usage_dropped_.store(usage_outbox_.dropped());
  owner_->usage_pending_.store(static_cast<int64_t>(usage_outbox_.size()));
}

void LeaseClient::Impl::Run() {
  const int64_t now = clock_->NowNanos();
  for (const auto& c : io_->connections) {
    c->reachable = false;
    c->last_receive = now;
    c->snapshot_requested = false;
    SendHello(c.get());
  }
  last_heartbeat_ = now;
  follow_pending_ = true;  // learned members are connected to again
  RebuildOwners();
  while (!stop_.load() && !Drained()) {
    try {
      Tick();
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) break;
      if (e.num() != EINTR) {
        LogError(kLog, std::string("ZeroMQ error on a controller socket: ") +
                           e.what() + "; continuing");
      }
    }
  }
  for (const auto& c : io_->connections) c->reachable = false;
  owner_->reachable_.store(false);
  owner_->controllers_reachable_.store(0);
}

std::chrono::milliseconds LeaseClient::Impl::PollTimeout() const {
  const int64_t next_beat_ms =
      (last_heartbeat_ + options_.heartbeat_ms * kNanosPerMilli -
       clock_->NowNanos()) /
      kNanosPerMilli;
  return std::chrono::milliseconds(std::clamp<int64_t>(
      next_beat_ms + 1, 1,
      io_->wake.ok() ? kPollIntervalMs : kPollIntervalWithoutWakeMs));
}

void LeaseClient::Impl::PollConnections() {
  std::vector<std::unique_ptr<Connection>>& connections = io_->connections;
  std::vector<zmq::pollitem_t> items;
  items.reserve(connections.size() + 1);
  items.push_back({nullptr, io_->wake.fd(), ZMQ_POLLIN, 0});
  for (const auto& c : connections) {
    items.push_back({c->dealer->handle(), 0, ZMQ_POLLIN, 0});
  }
  zmq::poll(items.data(), items.size(), PollTimeout());
  if (items[0].revents & ZMQ_POLLIN) io_->wake.Drain();
  if (stop_.load()) return;
  // Handling a message may add or drop learned connections (FollowSet
  // runs after the loop, so the indices here stay valid).
  for (size_t i = 0; i < connections.size(); ++i) {
    if (!(items[i + 1].revents & ZMQ_POLLIN)) continue;
    Connection* c = connections[i].get();
    for (int n = 0; n < kMaxMessagesPerTick; ++n) {
      std::vector<zmq::message_t> parts;
      if (!zmq::recv_multipart(*c->dealer, std::back_inserter(parts),
                               zmq::recv_flags::dontwait)) {
        break;
      }
      HandleFrames(c, &parts, clock_->NowNanos());
    }
  }
}

void LeaseClient::Impl::Tick() {
  PollConnections();
  if (stop_.load()) return;
  const int64_t now = clock_->NowNanos();
  for (const auto& c : io_->connections) {
    if (c->handshake_watch) c->handshake_watch->Poll(now);
  }
  CheckReachable(now);
  FollowSet(now);
  const bool beat =
      now - last_heartbeat_ >= options_.heartbeat_ms * kNanosPerMilli;
  for (const auto& c : io_->connections) {
    if (c->hello_pending) SendHello(c.get());
    if (beat) {
      Heartbeat heartbeat;
      heartbeat.rules_version = version_;
      Send(c.get(), heartbeat);  // not connected: the next one will do
    }
  }
  if (beat) last_heartbeat_ = now;
  FlushSubmits(now);
  PrunePending(now);
  FlushUsage(now);
}

bool LeaseClient::Impl::Send(Connection* c, const WireMessage& message) {
  const std::string bytes = EncodeWireMessage(message);
  return c->dealer->send(zmq::buffer(bytes), zmq::send_flags::dontwait)
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
    // Named for top -H and perf (tests/bench/idle_cost.sh).
    pthread_setname_np(pthread_self(), "sluice-lease");
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

void LeaseClient::Stop(std::chrono::steady_clock::time_point drain_until) {
  if (!thread_.joinable()) return;
  impl_->RequestDrain(drain_until);  // Run() returns once drained
  thread_.join();
  impl_->Close();
}

void LeaseClient::Submit(std::vector<LeaseWant> items) {
  impl_->Submit(std::move(items));
}

void LeaseClient::Summarize(std::vector<LeaseWant> items) {
  impl_->Summarize(std::move(items));
}

void LeaseClient::Flush(std::chrono::steady_clock::time_point until) {
  if (!thread_.joinable()) return;
  impl_->Flush(until);
}

void LeaseClient::SubmitUsage(UsageReport report) {
  impl_->SubmitUsage(std::move(report));
}

}  // namespace sluice
