#include "controller/lease_server.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <iterator>
#include <map>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "common/bucket_key.h"
#include "common/global_budget.h"
#include "common/wire.h"
#include "platform/log.h"

namespace sluice {
namespace {

constexpr std::string_view kLog = "lease-server";
// Upper bound on how late a catalog change is pushed and a Stop() is seen.
constexpr std::chrono::milliseconds kPollInterval{20};
constexpr int kHighWaterMark = 10000;  // messages queued per peer
// Messages handled per wake-up before the catalog and timeouts are checked
// again, so a flood cannot delay a RulesDelta.
constexpr int kMaxMessagesPerTick = 1000;
// A budget that is full and has not been used for this long is dropped; a
// new one built from the rule is identical.
constexpr int64_t kBudgetIdleNanos = 60 * kNanosPerSecond;
constexpr int64_t kSweepIntervalNanos = kNanosPerSecond;
// Warnings about bad frames logged per second; the rest are counted.
constexpr int kWarningsPerSecond = 10;

size_t WildcardCount(const Rule& rule) {
  return static_cast<size_t>(
      std::count_if(rule.match.begin(), rule.match.end(),
                    [](const auto& kv) { return kv.second == kWildcard; }));
}

// A routing id for logs: as is when printable (LeaseClient's are
// "agent-id/random"), else in hex (ZeroMQ's generated ones).
std::string PeerName(std::string_view id) {
  const bool printable = std::all_of(
      id.begin(), id.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
  if (printable && !id.empty()) return std::string(id);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "0x";
  for (unsigned char c : id) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

const char* TypeName(const WireMessage& message) {
  struct Namer {
    const char* operator()(const Hello&) { return "Hello"; }
    const char* operator()(const SnapshotRequest&) { return "SnapshotRequest"; }
    const char* operator()(const Heartbeat&) { return "Heartbeat"; }
    const char* operator()(const RulesSnapshot&) { return "RulesSnapshot"; }
    const char* operator()(const RulesDelta&) { return "RulesDelta"; }
    const char* operator()(const LeaseRequest&) { return "LeaseRequest"; }
    const char* operator()(const LeaseGrant&) { return "LeaseGrant"; }
    const char* operator()(const ErrorMessage&) { return "ErrorMessage"; }
  };
  return std::visit(Namer{}, message);
}

struct Metrics {
  prometheus::Counter* lease_requests = nullptr;
  prometheus::Counter* tokens_granted = nullptr;
  prometheus::Counter* wire_errors = nullptr;
  prometheus::Gauge* agents_connected = nullptr;
};

Metrics RegisterMetrics(prometheus::Registry* registry) {
  Metrics m;
  if (registry == nullptr) return m;
  m.lease_requests = &prometheus::BuildCounter()
                          .Name("sluice_controller_lease_requests_total")
                          .Help("LeaseRequests received from agents")
                          .Register(*registry)
                          .Add({});
  m.tokens_granted = &prometheus::BuildCounter()
                          .Name("sluice_controller_lease_tokens_granted_total")
                          .Help("Tokens granted to agents in leases")
                          .Register(*registry)
                          .Add({});
  m.wire_errors = &prometheus::BuildCounter()
                       .Name("sluice_controller_wire_errors_total")
                       .Help(
                           "Frames from agents that were malformed or "
                           "unexpected")
                       .Register(*registry)
                       .Add({});
  m.agents_connected = &prometheus::BuildGauge()
                            .Name("sluice_controller_agents_connected")
                            .Help("Agents heard from within the agent timeout")
                            .Register(*registry)
                            .Add({});
  return m;
}

}  // namespace

// Everything below is owned by the server thread once Start() returns; only
// stop_ and *agents_out_ are shared.
class LeaseServer::Impl {
 public:
  Impl(const LeaseServerOptions& options, RuleCatalog* catalog,
       const Clock* clock, const Metrics& metrics,
       std::atomic<int64_t>* agents_out)
      : options_(options),
        catalog_(catalog),
        clock_(clock),
        metrics_(metrics),
        agents_out_(agents_out),
        router_(context_, zmq::socket_type::router) {}

  Status Bind();
  void Run();
  void RequestStop() { stop_.store(true); }

 private:
  struct Agent {
    std::string agent_id;  // from Hello; empty until one arrives
    int64_t last_seen = 0;
  };
  struct Budget {
    GlobalBudget budget;
    int64_t rule_version;
  };

  void Tick();
  void HandleFrames(std::vector<zmq::message_t>* parts, int64_t now);
  void HandleLeaseRequest(const std::string& peer, const LeaseRequest& request,
                          int64_t now);
  // Pushes a RulesDelta to every agent when the catalog moved.
  void SyncCatalog(int64_t now);
  void ReconcileBudgets(int64_t now);
  void SweepBudgets(int64_t now);
  void ExpireAgents(int64_t now);

  // Registers an unknown peer; true if it was unknown.
  bool Touch(const std::string& peer, int64_t now);
  void Forget(const std::string& peer, std::string_view why);
  void PublishAgentCount();

  void SendSnapshot(const std::string& peer);
  void Send(const std::string& peer, const WireMessage& message);
  void SendBytes(const std::string& peer, const std::string& bytes);
  void WireError(const std::string& peer, int64_t now,
                 const std::string& message);
  // At most kWarningsPerSecond lines; the rest are counted.
  void Warn(int64_t now, const std::string& message);

  const LeaseServerOptions options_;
  RuleCatalog* const catalog_;
  const Clock* const clock_;
  const Metrics metrics_;
  std::atomic<int64_t>* const agents_out_;
  std::atomic<bool> stop_{false};

  zmq::context_t context_;
  zmq::socket_t router_;

  int64_t learning_until_ = 0;
  int64_t rules_version_ = 0;      // what agents were last told
  std::map<int64_t, Rule> rules_;  // by id, as of rules_version_
  std::unordered_map<std::string, Agent> agents_;    // by routing id
  std::unordered_map<std::string, Budget> budgets_;  // by bucket key
  int64_t next_sweep_ = 0;

  int64_t warn_window_start_ = 0;
  int warnings_in_window_ = 0;
  int64_t warnings_suppressed_ = 0;
};

Status LeaseServer::Impl::Bind() {
  try {
    router_.set(zmq::sockopt::linger, 0);
    router_.set(zmq::sockopt::sndhwm, kHighWaterMark);
    router_.set(zmq::sockopt::rcvhwm, kHighWaterMark);
    router_.set(zmq::sockopt::maxmsgsize,
                static_cast<int64_t>(kMaxWireMessageBytes));
    // A reconnecting agent with the same routing id takes over its old
    // entry; a send to a peer that is gone fails (EHOSTUNREACH) instead of
    // vanishing, so the agent is forgotten at once.
    router_.set(zmq::sockopt::router_handover, true);
    router_.set(zmq::sockopt::router_mandatory, true);
    // CurveZMQ (server key, ZAP handler) is configured here, before bind.
    router_.bind(options_.endpoint);
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(
        "cannot bind the agents' endpoint '" + options_.endpoint +
        "': " + e.what() +
        "; expected a free, well-formed ZeroMQ address such as "
        "tcp://127.0.0.1:7070");
  }
  const int64_t now = clock_->NowNanos();
  learning_until_ = now + options_.learning_ms * kNanosPerMilli;
  next_sweep_ = now + kSweepIntervalNanos;
  RuleCatalog::Snapshot snapshot = catalog_->Get();
  rules_version_ = snapshot.version;
  for (Rule& rule : snapshot.rules) {
    const int64_t id = rule.id;
    rules_.emplace(id, std::move(rule));
  }
  PublishAgentCount();
  return Status::Ok();
}

void LeaseServer::Impl::Run() {
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
  agents_.clear();
  PublishAgentCount();
}

void LeaseServer::Impl::Tick() {
  zmq::pollitem_t item{router_.handle(), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, kPollInterval);
  int64_t now = clock_->NowNanos();
  // Catalog first, so a snapshot sent below is the state deltas build on.
  SyncCatalog(now);
  if (item.revents & ZMQ_POLLIN) {
    for (int i = 0; i < kMaxMessagesPerTick && !stop_.load(); ++i) {
      std::vector<zmq::message_t> parts;
      if (!zmq::recv_multipart(router_, std::back_inserter(parts),
                               zmq::recv_flags::dontwait)) {
        break;
      }
      HandleFrames(&parts, clock_->NowNanos());  // now, not at poll time
    }
  }
  now = clock_->NowNanos();
  ExpireAgents(now);
  if (now >= next_sweep_) {
    SweepBudgets(now);
    next_sweep_ = now + kSweepIntervalNanos;
  }
}

void LeaseServer::Impl::HandleFrames(std::vector<zmq::message_t>* parts,
                                     int64_t now) {
  const std::string peer = (*parts)[0].to_string();
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
  WireMessage& message = decoded.value();
  if (const auto* hello = std::get_if<Hello>(&message)) {
    if (hello->protocol != kProtocolVersion) {
      WireError(peer, now,
                "protocol " + std::to_string(hello->protocol) +
                    " is not supported; this controller speaks protocol " +
                    std::to_string(kProtocolVersion));
      return;
    }
    Touch(peer, now);
    agents_[peer].agent_id = hello->agent_id;
    SendSnapshot(peer);
  } else if (std::holds_alternative<SnapshotRequest>(message)) {
    Touch(peer, now);
    SendSnapshot(peer);
  } else if (std::holds_alternative<Heartbeat>(message)) {
    if (Touch(peer, now)) SendSnapshot(peer);
    Heartbeat reply;
    reply.rules_version = rules_version_;
    reply.agents = static_cast<int64_t>(agents_.size());
    Send(peer, reply);
  } else if (const auto* request = std::get_if<LeaseRequest>(&message)) {
    if (Touch(peer, now)) SendSnapshot(peer);
    HandleLeaseRequest(peer, *request, now);
  } else {
    WireError(peer, now,
              std::string("unexpected ") + TypeName(message) +
                  " from an agent; agents send Hello, SnapshotRequest, "
                  "Heartbeat or LeaseRequest");
  }
}

void LeaseServer::Impl::HandleLeaseRequest(const std::string& peer,
                                           const LeaseRequest& request,
                                           int64_t now) {
  const bool learning = now < learning_until_;
  LeaseGrant grant;
  grant.seq = request.seq;
  grant.items.reserve(request.items.size());
  int64_t granted_total = 0;
  for (const LeaseWant& want : request.items) {
    LeaseGrantItem& out = grant.items.emplace_back();
    out.rule_id = want.rule_id;
    out.values = want.values;
    out.ttl_ms = options_.lease_ttl_ms;
    auto rule_it = rules_.find(want.rule_id);
    // Unknown or disabled rule, or values that do not fit it: nothing.
    if (rule_it == rules_.end() || !rule_it->second.enabled ||
        want.values.size() != WildcardCount(rule_it->second)) {
      continue;
    }
    const Rule& rule = rule_it->second;
    std::string key = MakeBucketKey(rule.id, want.values);
    auto it = budgets_.find(key);
    if (it == budgets_.end()) {
      it = budgets_
               .emplace(std::move(key),
                        Budget{GlobalBudget(rule, now), rule.version})
               .first;
    } else if (it->second.rule_version != rule.version) {
      it->second.budget.Reconfigure(rule, now);
      it->second.rule_version = rule.version;
    }
    // While learning, grant no lease at all (ttl 0): the agent stays on its
    // safe share instead of holding an empty lease that refuses everything.
    // What agents spent unleased is still charged.
    if (learning) out.ttl_ms = 0;
    const int64_t asked = learning ? 0 : std::max<int64_t>(0, want.want);
    out.tokens = it->second.budget.Grant(now, asked,
                                         std::max<int64_t>(0, want.unleased));
    granted_total += out.tokens;
  }
  if (metrics_.lease_requests != nullptr) {
    metrics_.lease_requests->Increment();
    metrics_.tokens_granted->Increment(static_cast<double>(granted_total));
  }
  Send(peer, grant);
}

void LeaseServer::Impl::SyncCatalog(int64_t now) {
  if (catalog_->version() == rules_version_) return;
  RuleCatalog::Snapshot snapshot = catalog_->Get();
  if (snapshot.version == rules_version_) return;
  RulesDelta delta;
  delta.base_version = rules_version_;
  delta.version = snapshot.version;
  std::map<int64_t, Rule> next;
  for (Rule& rule : snapshot.rules) {
    const int64_t id = rule.id;
    next.emplace(id, std::move(rule));
  }
  for (const auto& [id, rule] : next) {
    auto old = rules_.find(id);
    if (old == rules_.end() || old->second != rule) {
      delta.upserts.push_back(rule);
    }
  }
  for (const auto& entry : rules_) {
    if (next.count(entry.first) == 0) delta.deletes.push_back(entry.first);
  }
  rules_ = std::move(next);
  rules_version_ = snapshot.version;
  ReconcileBudgets(now);

  const std::string bytes = EncodeWireMessage(delta);
  std::vector<std::string> peers;
  peers.reserve(agents_.size());
  for (const auto& entry : agents_) peers.push_back(entry.first);
  for (const std::string& peer : peers) SendBytes(peer, bytes);
}

void LeaseServer::Impl::ReconcileBudgets(int64_t now) {
  for (auto it = budgets_.begin(); it != budgets_.end();) {
    auto rule = rules_.find(BucketKeyRuleId(it->first));
    if (rule == rules_.end() || !rule->second.enabled) {
      it = budgets_.erase(it);
      continue;
    }
    if (it->second.rule_version != rule->second.version) {
      it->second.budget.Reconfigure(rule->second, now);
      it->second.rule_version = rule->second.version;
    }
    ++it;
  }
}

void LeaseServer::Impl::SweepBudgets(int64_t now) {
  for (auto it = budgets_.begin(); it != budgets_.end();) {
    auto rule = rules_.find(BucketKeyRuleId(it->first));
    const bool idle = now - it->second.budget.last_used() > kBudgetIdleNanos;
    if (rule != rules_.end() && idle &&
        it->second.budget.Available(now) >=
            static_cast<double>(rule->second.burst)) {
      it = budgets_.erase(it);
    } else {
      ++it;
    }
  }
}

void LeaseServer::Impl::ExpireAgents(int64_t now) {
  const int64_t timeout = options_.agent_timeout_ms * kNanosPerMilli;
  std::vector<std::string> silent;
  for (const auto& [peer, agent] : agents_) {
    if (now - agent.last_seen > timeout) silent.push_back(peer);
  }
  for (const std::string& peer : silent) {
    Forget(peer, "silent for more than " +
                     std::to_string(options_.agent_timeout_ms) + " ms");
  }
}

bool LeaseServer::Impl::Touch(const std::string& peer, int64_t now) {
  auto [it, inserted] = agents_.try_emplace(peer);
  it->second.last_seen = now;
  if (inserted) {
    PublishAgentCount();
    LogInfo(kLog, "agent " + PeerName(peer) + " connected (" +
                      std::to_string(agents_.size()) + " agents)");
  }
  return inserted;
}

void LeaseServer::Impl::Forget(const std::string& peer, std::string_view why) {
  auto it = agents_.find(peer);
  if (it == agents_.end()) return;
  const std::string name =
      it->second.agent_id.empty() ? PeerName(peer) : it->second.agent_id;
  agents_.erase(it);
  PublishAgentCount();
  LogInfo(kLog, "forgot agent '" + name + "': " + std::string(why) + " (" +
                    std::to_string(agents_.size()) + " agents)");
}

void LeaseServer::Impl::PublishAgentCount() {
  const auto count = static_cast<int64_t>(agents_.size());
  agents_out_->store(count);
  if (metrics_.agents_connected != nullptr) {
    metrics_.agents_connected->Set(static_cast<double>(count));
  }
}

void LeaseServer::Impl::SendSnapshot(const std::string& peer) {
  RulesSnapshot snapshot;
  snapshot.version = rules_version_;
  snapshot.agents = static_cast<int64_t>(agents_.size());
  snapshot.rules.reserve(rules_.size());
  for (const auto& entry : rules_) snapshot.rules.push_back(entry.second);
  Send(peer, snapshot);
}

void LeaseServer::Impl::Send(const std::string& peer,
                             const WireMessage& message) {
  SendBytes(peer, EncodeWireMessage(message));
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
      Forget(peer, "disconnected");
      return;
    }
    throw;
  }
}

void LeaseServer::Impl::WireError(const std::string& peer, int64_t now,
                                  const std::string& message) {
  if (metrics_.wire_errors != nullptr) metrics_.wire_errors->Increment();
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
  auto impl = std::make_unique<Impl>(options_, catalog_, clock_,
                                     RegisterMetrics(registry_), &agents_);
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
}

}  // namespace sluice
