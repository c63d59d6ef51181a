#include "controller/lease/lease_server.h"

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
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "common/allocator.h"
#include "common/bucket_key.h"
#include "common/wire.h"
#include "controller/lease/budget_table.h"
#include "controller/lease/curve_zap.h"
#include "platform/curve_keys.h"
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
// Budgets are swept (idle ones dropped, silent agents forgotten) a slice
// at a time: one slice of 1/kSweepSlices of the table every
// kSweepIntervalNanos, so the whole table about once a second, in pieces
// too small to hold up the requests queued behind them.
constexpr int64_t kSweepIntervalNanos = 20 * kNanosPerMilli;
constexpr size_t kSweepSlices = 50;
// An agent silent in a bucket for this long (at least; and twice the lease
// ttl) with no lease outstanding there is forgotten by that bucket.
constexpr int64_t kBucketAgentForgetNanos = 5 * kNanosPerSecond;
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
  prometheus::Gauge* buckets = nullptr;
  prometheus::Gauge* bucket_agents = nullptr;
  prometheus::Gauge* learning = nullptr;
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
  m.buckets = &prometheus::BuildGauge()
                   .Name("sluice_controller_lease_buckets")
                   .Help("Buckets with a budget at the controller")
                   .Register(*registry)
                   .Add({});
  m.bucket_agents =
      &prometheus::BuildGauge()
           .Name("sluice_controller_lease_bucket_agents")
           .Help("(bucket, agent) pairs the allocators keep a demand for")
           .Register(*registry)
           .Add({});
  m.learning = &prometheus::BuildGauge()
                    .Name("sluice_controller_learning")
                    .Help(
                        "1 during the learning period after a start, when "
                        "no tokens are granted, else 0")
                    .Register(*registry)
                    .Add({});
  return m;
}

}  // namespace

// The counts the server publishes to its owner's thread.
struct LeaseServerCounts {
  std::atomic<int64_t>* agents;
  std::atomic<int64_t>* buckets;
  std::atomic<int64_t>* bucket_agents;
};

// Everything below is owned by the server thread once Start() returns; only
// stop_ and the counts are shared.
class LeaseServer::Impl {
 public:
  Impl(const LeaseServerOptions& options, RuleCatalog* catalog,
       const Clock* clock, const Metrics& metrics, LeaseServerCounts counts)
      : options_(options),
        catalog_(catalog),
        clock_(clock),
        metrics_(metrics),
        counts_(counts),
        router_(context_, zmq::socket_type::router) {
    allocator_options_.lease_ttl_ns = options_.lease_ttl_ms * kNanosPerMilli;
    allocator_options_.forget_after_ns =
        std::max(kBucketAgentForgetNanos, 2 * allocator_options_.lease_ttl_ns);
  }

  Status Bind();
  void Run();
  void RequestStop() { stop_.store(true); }

 private:
  struct Agent {
    std::string agent_id;  // from Hello; empty until one arrives
    int64_t last_seen = 0;
    std::string curve_key;  // Z85 public key it authenticated with (CURVE)
    uint64_t number = 0;    // its id in the allocators, never reused
    double weight = 1.0;    // from options.agent_weights
  };

  // CurveZMQ: server key and ZAP handler, before bind; see lease_server.h.
  Status ConfigureCurve();
  // Whether the message's "User-Id" (set by the ZAP handler) is a key
  // allowed now; if not, the message is dropped and its sender forgotten.
  bool Authorized(const std::vector<zmq::message_t>& parts,
                  const std::string& peer, int64_t now);
  // Takes a new allowed set; forgets agents whose key left it.
  void RefreshAllowedKeys();

  void Tick();
  void HandleFrames(std::vector<zmq::message_t>* parts, int64_t now);
  // Answers `request`; its items' values are moved into the grant.
  void HandleLeaseRequest(const std::string& peer, LeaseRequest& request,
                          int64_t now);
  // Pushes a RulesDelta to every agent when the catalog moved.
  void SyncCatalog(int64_t now);
  void ReconcileBudgets(int64_t now);
  // Visits `slices` slices of the budgets (see kSweepSlices).
  void SweepBudgets(int64_t now, size_t slices);
  // SweepBudgets for the intervals gone by since the last one, if any.
  void MaybeSweepBudgets(int64_t now);
  void ExpireAgents(int64_t now);
  // Sets sluice_controller_learning when it changed.
  void PublishLearning(int64_t now);

  // Registers an unknown peer; true if it was unknown.
  bool Touch(const std::string& peer, int64_t now);
  void Forget(const std::string& peer, std::string_view why);
  void PublishAgentCount();
  // Tells every agent the new number of agents (their safe shares are
  // limit / agents) when it changed since the last call.
  void BroadcastAgentCount();
  // Publishes the number of budgets and of (budget, agent) pairs: counted
  // now (all budgets), or as the last sweep pass found them.
  void PublishBudgetCounts();
  void PublishBudgetCounts(int64_t buckets, int64_t pairs);

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
  const LeaseServerCounts counts_;
  AllocatorOptions allocator_options_;  // the allocators point to it
  std::atomic<bool> stop_{false};

  zmq::context_t context_;
  zmq::socket_t router_;
  // CURVE only; after router_ so that it stops first.
  std::unique_ptr<ZapHandler> zap_;
  std::shared_ptr<const AllowedAgentKeys::Map> allowed_;
  uint64_t allowed_version_ = 0;
  std::string current_key_;  // key of the message being handled
  // Peers already warned about a refused message (bounded, see Authorized).
  std::unordered_set<std::string> refused_peers_;

  int64_t learning_until_ = 0;
  bool published_learning_ = false;  // what sluice_controller_learning says
  int64_t rules_version_ = 0;        // what agents were last told
  std::map<int64_t, Rule> rules_;    // by id, as of rules_version_
  std::unordered_map<std::string, Agent> agents_;  // by routing id
  BudgetTable budgets_;                            // by bucket key
  uint64_t next_agent_number_ = 1;
  bool agent_count_changed_ = false;  // see BroadcastAgentCount
  int64_t next_sweep_ = 0;
  // SweepBudgets: the next position of budgets_ to visit and the (budget,
  // agent) pairs the current pass counted.
  size_t sweep_cursor_ = 0;
  int64_t pass_pairs_ = 0;
  bool pass_counts_valid_ = true;  // false after a full count mid-pass
  // HandleLeaseRequest's scratch, one per item of the request: the rule
  // (nullptr: nothing to grant), the bucket key and its hash.
  std::vector<const Rule*> item_rules_;
  std::vector<std::string> item_keys_;
  std::vector<uint64_t> item_hashes_;

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
    Status curve = ConfigureCurve();
    if (!curve.ok()) return curve;
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
  PublishBudgetCounts();
  published_learning_ = !(now < learning_until_);  // forces the first publish
  PublishLearning(now);
  return Status::Ok();
}

Status LeaseServer::Impl::ConfigureCurve() {
  if (options_.curve_secret_key.empty()) return Status::Ok();
  if (options_.allowed_agent_keys == nullptr) {
    return Status::FailedPrecondition(
        "the lease server has a CurveZMQ key but no set of allowed agent "
        "keys: without one every agent that knows the server's public key "
        "would get in; give LeaseServerOptions::allowed_agent_keys");
  }
  StatusOr<std::string> secret =
      DecodeCurveKey(options_.curve_secret_key, "the controller's secret key");
  if (!secret.ok()) return secret.status();
  // The handler must be bound before the ROUTER accepts a handshake.
  zap_ = std::make_unique<ZapHandler>(&context_, options_.allowed_agent_keys);
  Status zap = zap_->Start();
  if (!zap.ok()) {
    zap_.reset();
    return zap;
  }
  allowed_ = options_.allowed_agent_keys->Get();
  allowed_version_ = options_.allowed_agent_keys->version();
  router_.set(zmq::sockopt::curve_server, true);
  router_.set(zmq::sockopt::curve_secretkey, *secret);
  router_.set(zmq::sockopt::zap_domain, "sluice-agents");
  return Status::Ok();
}

bool LeaseServer::Impl::Authorized(const std::vector<zmq::message_t>& parts,
                                   const std::string& peer, int64_t now) {
  // libzmq attaches the ZAP reply's user id (the key, in Z85) to every
  // message of the connection. None: not authenticated by our handler.
  const char* user = zmq_msg_gets(parts.back().handle(), "User-Id");
  if (user != nullptr) {
    auto it = allowed_->find(user);
    if (it != allowed_->end()) {
      current_key_ = it->first;
      return true;
    }
  }
  auto agent = agents_.find(peer);
  if (agent != agents_.end()) {
    Forget(peer, "its CurveZMQ key is no longer allowed (revoked)");
  }
  // Once per peer: a revoked agent keeps sending until it gives up.
  if (refused_peers_.size() >= 4096) refused_peers_.clear();
  if (refused_peers_.insert(peer).second) {
    Warn(now, "ignoring messages from agent " + PeerName(peer) +
                  (user != nullptr ? " with CurveZMQ key " + std::string(user)
                                   : std::string(" without a CurveZMQ key")) +
                  ": the key is not an allowed agent key (revoked)");
  }
  return false;
}

void LeaseServer::Impl::RefreshAllowedKeys() {
  const uint64_t version = options_.allowed_agent_keys->version();
  if (version == allowed_version_) return;
  allowed_ = options_.allowed_agent_keys->Get();
  allowed_version_ = version;
  std::vector<std::string> revoked;
  for (const auto& [peer, agent] : agents_) {
    if (allowed_->count(agent.curve_key) == 0) revoked.push_back(peer);
  }
  for (const std::string& peer : revoked) {
    Forget(peer, "its CurveZMQ key was revoked; it gets no answer from now on");
  }
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
  if (zap_ != nullptr) RefreshAllowedKeys();
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
      now = clock_->NowNanos();  // now, not at poll time
      HandleFrames(&parts, now);
      // A steady flow of messages does not hold up the sweep.
      MaybeSweepBudgets(now);
    }
  }
  now = clock_->NowNanos();
  ExpireAgents(now);
  BroadcastAgentCount();
  MaybeSweepBudgets(now);
  PublishLearning(now);
}

void LeaseServer::Impl::PublishLearning(int64_t now) {
  const bool learning = now < learning_until_;
  if (metrics_.learning != nullptr && learning != published_learning_) {
    metrics_.learning->Set(learning ? 1 : 0);
    published_learning_ = learning;
  }
}

void LeaseServer::Impl::MaybeSweepBudgets(int64_t now) {
  if (now < next_sweep_) return;
  // One slice per interval gone by (a late call catches up, at most a whole
  // pass at once).
  const int64_t due = 1 + (now - next_sweep_) / kSweepIntervalNanos;
  SweepBudgets(now, static_cast<size_t>(std::min<int64_t>(
                        due, static_cast<int64_t>(kSweepSlices))));
  next_sweep_ = now + kSweepIntervalNanos;
}

void LeaseServer::Impl::HandleFrames(std::vector<zmq::message_t>* parts,
                                     int64_t now) {
  const std::string peer = (*parts)[0].to_string();
  if (zap_ != nullptr && !Authorized(*parts, peer, now)) return;
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
    Agent& agent = agents_[peer];
    agent.agent_id = hello->agent_id;
    auto weight = options_.agent_weights.find(hello->agent_id);
    agent.weight = weight != options_.agent_weights.end() && weight->second > 0
                       ? weight->second
                       : 1.0;
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
  } else if (auto* request = std::get_if<LeaseRequest>(&message)) {
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
                                           LeaseRequest& request, int64_t now) {
  const bool learning = now < learning_until_;
  auto agent_it = agents_.find(peer);
  if (agent_it == agents_.end()) return;  // forgotten meanwhile (send failed)
  const Agent& agent = agent_it->second;
  LeaseGrant grant;
  grant.seq = request.seq;
  const size_t n = request.items.size();
  grant.items.resize(n);
  item_rules_.assign(n, nullptr);
  if (item_keys_.size() < n) item_keys_.resize(n);
  item_hashes_.resize(n);
  // Three passes, so that the memory loads of all items' budgets are under
  // way together: keys and slot prefetches, then entry prefetches, then
  // the work (see controller/lease/budget_table.h).
  for (size_t i = 0; i < n; ++i) {
    LeaseWant& want = request.items[i];
    LeaseGrantItem& out = grant.items[i];
    out.rule_id = want.rule_id;
    out.values = std::move(want.values);
    out.ttl_ms = options_.lease_ttl_ms;
    auto rule_it = rules_.find(want.rule_id);
    // Unknown or disabled rule, or values that do not fit it: nothing.
    if (rule_it == rules_.end() || !rule_it->second.enabled ||
        out.values.size() != WildcardCount(rule_it->second)) {
      continue;
    }
    item_rules_[i] = &rule_it->second;
    MakeBucketKey(want.rule_id, out.values, &item_keys_[i]);
    item_hashes_[i] = BudgetTable::Hash(item_keys_[i]);
    budgets_.Prefetch(item_hashes_[i]);
  }
  for (size_t i = 0; i < n; ++i) {
    if (item_rules_[i] != nullptr) {
      budgets_.PrefetchEntry(item_keys_[i], item_hashes_[i]);
    }
  }
  int64_t granted_total = 0;
  for (size_t i = 0; i < n; ++i) {
    if (item_rules_[i] == nullptr) continue;
    const Rule& rule = *item_rules_[i];
    const LeaseWant& want = request.items[i];
    LeaseGrantItem& out = grant.items[i];
    Budget* budget = budgets_.Find(item_keys_[i], item_hashes_[i]);
    if (budget == nullptr) {
      // While learning, a previous incarnation may have leased the whole
      // burst: start empty, and keep no refill nobody claims.
      const auto start = learning ? BucketAllocator::Start::kEmpty
                                  : BucketAllocator::Start::kFull;
      budget = budgets_.Insert(
          item_keys_[i], item_hashes_[i],
          Budget{BucketAllocator(rule, now, &allocator_options_, start),
                 rule.version, now, now});
      if (learning) budget->allocator.DropUnclaimedUntil(learning_until_);
    }
    budget->used_at = now;
    if (budget->rule_version != rule.version) {
      budget->allocator.Reconfigure(rule, now);
      budget->rule_version = rule.version;
    }
    LeaseReport report;
    report.want = want.want;
    report.admitted = want.admitted;
    report.refused = want.refused;
    report.unleased = want.unleased;
    report.weight = agent.weight;
    const LeaseOffer offer = budget->allocator.Grant(agent.number, now, report);
    out.tokens = offer.tokens;
    // While learning, no tokens for an agent that refused nothing means no
    // lease at all (ttl 0): it keeps its old lease or its safe share (a
    // cold bucket stays usable). An agent that refuses gets the empty
    // lease: its safe share would only add to what old leases may admit.
    if (learning && out.tokens == 0 && want.refused <= 0) out.ttl_ms = 0;
    granted_total += out.tokens;
  }
  if (metrics_.lease_requests != nullptr) {
    metrics_.lease_requests->Increment();
    metrics_.tokens_granted->Increment(static_cast<double>(granted_total));
  }
  Send(peer, WireMessage(std::move(grant)));  // not copied
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
  for (size_t i = 0; i < budgets_.capacity();) {
    Budget* budget = budgets_.At(i);
    if (budget == nullptr) {
      ++i;
      continue;
    }
    auto rule = rules_.find(BucketKeyRuleId(budgets_.KeyAt(i)));
    if (rule == rules_.end() || !rule->second.enabled) {
      budgets_.EraseAt(i);  // a later budget may now be at i
      continue;
    }
    if (budget->rule_version != rule->second.version) {
      budget->allocator.Reconfigure(rule->second, now);
      budget->rule_version = rule->second.version;
    }
    ++i;
  }
}

void LeaseServer::Impl::SweepBudgets(int64_t now, size_t slices) {
  // A budget can only become idle (no agent left: each is forgotten after
  // forget_after_ns of silence) that long after its last request, and the
  // silent agents of a budget still in use need dropping about as rarely:
  // a budget swept or used within that time is passed over, without
  // touching its allocator. A growth of the table while a pass is under
  // way may make it visit some budgets twice or miss them once; the next
  // pass sees them.
  const int64_t quiet = allocator_options_.forget_after_ns;
  const size_t positions = budgets_.capacity();
  const size_t slice = (positions + kSweepSlices - 1) / kSweepSlices;
  for (size_t visited = 0; visited < slice * slices; ++visited) {
    if (sweep_cursor_ >= positions) {  // a pass ended
      if (pass_counts_valid_) {
        PublishBudgetCounts(static_cast<int64_t>(budgets_.size()), pass_pairs_);
      }
      sweep_cursor_ = 0;
      pass_pairs_ = 0;
      pass_counts_valid_ = true;
    }
    Budget* budget = budgets_.At(sweep_cursor_);
    if (budget != nullptr) {
      if (now - budget->swept_at >= quiet || now - budget->used_at >= quiet) {
        budget->allocator.Sweep(now);
        budget->swept_at = now;
        // Idle: no agent, nothing leased, full; a new one would be the same.
        if (budget->allocator.Idle(now)) {
          budgets_.EraseAt(sweep_cursor_);  // a later budget may now be here
          continue;
        }
      }
      pass_pairs_ += static_cast<int64_t>(budget->allocator.agent_count());
    }
    ++sweep_cursor_;
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
  if (inserted) it->second.number = next_agent_number_++;
  it->second.curve_key = current_key_;
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
  const uint64_t number = it->second.number;
  agents_.erase(it);
  PublishAgentCount();
  // Its demand and shares go; its leases stay outstanding until expiry.
  const int64_t now = clock_->NowNanos();
  budgets_.ForEach([&](const std::string& /*key*/, Budget& budget) {
    budget.allocator.Forget(number, now);
  });
  PublishBudgetCounts();
  LogInfo(kLog, "forgot agent '" + name + "': " + std::string(why) + " (" +
                    std::to_string(agents_.size()) + " agents)");
}

void LeaseServer::Impl::PublishBudgetCounts() {
  int64_t pairs = 0;
  budgets_.ForEach([&](const std::string& /*key*/, Budget& budget) {
    pairs += static_cast<int64_t>(budget.allocator.agent_count());
  });
  PublishBudgetCounts(static_cast<int64_t>(budgets_.size()), pairs);
  pass_counts_valid_ = false;  // the sweep pass under way counted before
}

void LeaseServer::Impl::PublishBudgetCounts(int64_t buckets, int64_t pairs) {
  counts_.buckets->store(buckets);
  counts_.bucket_agents->store(pairs);
  if (metrics_.buckets != nullptr) {
    metrics_.buckets->Set(static_cast<double>(buckets));
    metrics_.bucket_agents->Set(static_cast<double>(pairs));
  }
}

void LeaseServer::Impl::BroadcastAgentCount() {
  if (!agent_count_changed_) return;
  agent_count_changed_ = false;
  Heartbeat beat;
  beat.rules_version = rules_version_;
  beat.agents = static_cast<int64_t>(agents_.size());
  const std::string bytes = EncodeWireMessage(beat);
  std::vector<std::string> peers;
  peers.reserve(agents_.size());
  for (const auto& entry : agents_) peers.push_back(entry.first);
  for (const std::string& peer : peers) SendBytes(peer, bytes);
}

void LeaseServer::Impl::PublishAgentCount() {
  agent_count_changed_ = true;
  const auto count = static_cast<int64_t>(agents_.size());
  counts_.agents->store(count);
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
  auto impl = std::make_unique<Impl>(
      options_, catalog_, clock_, RegisterMetrics(registry_),
      LeaseServerCounts{&agents_, &buckets_, &bucket_agents_});
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
