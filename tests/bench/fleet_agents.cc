#include "tests/bench/fleet_agents.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <utility>

#include "common/bucket_key.h"
#include "common/usage.h"

namespace fleet {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct FleetAgents::Agent {
  std::string id;
  std::vector<zmq::socket_t> conns;  // one per endpoint
  int64_t rules_version = 0;
  bool probe_recorded = false;
  const sluice::Ownership* ownership = nullptr;  // the highest set seen
  std::vector<std::string> values;               // one per bucket
  std::vector<uint64_t> key_hashes;              // StableHash of each key
  std::vector<int> owner_conn;  // per bucket, under `ownership`
  uint64_t seq = 0;
  uint64_t usage_seq = 0;
  int64_t next_heartbeat_ms = 0;
  int64_t next_lease_ms = 0;
};

FleetAgents::FleetAgents(FleetOptions options)
    : options_(std::move(options)), context_(1) {
  // Every agent has one socket per controller: more than ZeroMQ's default
  // of 1023 sockets per context.
  context_.set(
      zmq::ctxopt::max_sockets,
      options_.agents * static_cast<int>(options_.endpoints.size()) + 16);
  counts_.resize(options_.endpoints.size());
  // A fresh incarnation per run: the controller counts every report.
  incarnation_ = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
}

FleetAgents::~FleetAgents() = default;

void FleetAgents::Connect() {
  const size_t n_conns = options_.endpoints.size();
  const int64_t now = NowMs();
  for (int i = 0; i < options_.agents; ++i) {
    auto a = std::make_unique<Agent>();
    a->id = "fleet-" + std::to_string(i);
    for (int b = 0; b < options_.buckets_per_agent; ++b) {
      a->values.push_back("a" + std::to_string(i) + "-b" + std::to_string(b));
      a->key_hashes.push_back(sluice::StableHash(
          sluice::MakeBucketKey(options_.rule_id, {a->values.back()})));
    }
    for (size_t c = 0; c < n_conns; ++c) {
      zmq::socket_t socket(context_, zmq::socket_type::dealer);
      socket.set(zmq::sockopt::linger, 0);
      socket.set(zmq::sockopt::routing_id, a->id + "/" + std::to_string(c));
      socket.connect(options_.endpoints[c]);
      a->conns.push_back(std::move(socket));
    }
    // Spread each agent's timers over the period, as independent hosts.
    a->next_heartbeat_ms = now + options_.heartbeat_ms * i / options_.agents;
    a->next_lease_ms = now + options_.lease_interval_ms * i / options_.agents;
    Route(*a);
    agents_.push_back(std::move(a));
    for (size_t c = 0; c < n_conns; ++c) {
      sluice::Hello hello;
      hello.agent_id = agents_.back()->id;
      Send(i, static_cast<int>(c), hello);
      poll_items_.push_back(zmq_pollitem_t{
          static_cast<void*>(agents_.back()->conns[c]), 0, ZMQ_POLLIN, 0});
    }
  }
}

bool FleetAgents::Send(int agent, int conn, const sluice::WireMessage& m) {
  const std::string bytes = sluice::EncodeWireMessage(m);
  const auto sent = agents_[agent]->conns[conn].send(zmq::buffer(bytes),
                                                     zmq::send_flags::dontwait);
  if (!sent) ++counts_[conn].send_failures;
  return sent.has_value();
}

void FleetAgents::Pump(int64_t until_ms) {
  const size_t n_conns = options_.endpoints.size();
  do {
    RunTimers();
    const int64_t wait = std::clamp<int64_t>(until_ms - NowMs(), 0, 10);
    const int ready = zmq::poll(poll_items_.data(), poll_items_.size(),
                                std::chrono::milliseconds(wait));
    if (ready <= 0) continue;
    for (size_t p = 0; p < poll_items_.size(); ++p) {
      if ((poll_items_[p].revents & ZMQ_POLLIN) == 0) continue;
      const int agent = static_cast<int>(p / n_conns);
      const int conn = static_cast<int>(p % n_conns);
      zmq::message_t msg;
      while (agents_[agent]->conns[conn].recv(msg, zmq::recv_flags::dontwait)) {
        HandleMessage(agent, conn, msg);
      }
    }
  } while (NowMs() < until_ms);
}

void FleetAgents::RunTimers() {
  const int64_t now = NowMs();
  for (int i = 0; i < options_.agents; ++i) {
    Agent& a = *agents_[i];
    if (now >= a.next_heartbeat_ms) {
      a.next_heartbeat_ms += options_.heartbeat_ms;
      SendHeartbeats(i);
      if (leasing_ && options_.usage_reports) SendUsage(i);
    }
    if (now >= a.next_lease_ms) {
      a.next_lease_ms += options_.lease_interval_ms;
      if (leasing_) SendLeases(i);
    }
  }
}

void FleetAgents::SendHeartbeats(int agent) {
  sluice::Heartbeat heartbeat;
  heartbeat.rules_version = agents_[agent]->rules_version;
  for (size_t c = 0; c < options_.endpoints.size(); ++c) {
    Send(agent, static_cast<int>(c), heartbeat);
  }
}

void FleetAgents::SendUsage(int agent) {
  Agent& a = *agents_[agent];
  const int64_t wall_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count();
  sluice::UsageReport report;
  report.agent_id = a.id;
  report.incarnation = incarnation_;
  report.seq = ++a.usage_seq;
  report.sent_ms = wall_ms;
  report.version = "fleet-sim";
  report.rules_version = a.rules_version;
  report.buckets = static_cast<int64_t>(a.values.size());
  report.leases = report.buckets;
  report.counts.push_back(sluice::UsageCounts{options_.rule_id,
                                              sluice::MinuteStart(wall_ms),
                                              5 * report.buckets, 0, 0});
  if (Send(agent, 0, report)) ++counts_[0].usage_sent;
}

void FleetAgents::SendLeases(int agent) {
  Agent& a = *agents_[agent];
  std::vector<sluice::LeaseRequest> per_conn(options_.endpoints.size());
  for (size_t b = 0; b < a.values.size(); ++b) {
    sluice::LeaseWant want;
    want.rule_id = options_.rule_id;
    want.values = {a.values[b]};
    want.want = 10;
    want.admitted = 5;
    per_conn[static_cast<size_t>(a.owner_conn[b])].items.push_back(
        std::move(want));
  }
  for (size_t c = 0; c < per_conn.size(); ++c) {
    if (per_conn[c].items.empty()) continue;
    per_conn[c].seq = ++a.seq;
    const auto lines = static_cast<int64_t>(per_conn[c].items.size());
    if (Send(agent, static_cast<int>(c), per_conn[c])) {
      counts_[c].lines_sent += lines;
    }
  }
}

void FleetAgents::HandleMessage(int agent, int conn, const zmq::message_t& m) {
  Agent& a = *agents_[agent];
  auto decoded = sluice::DecodeWireMessage(m.to_string_view());
  if (!decoded.ok()) {
    std::fprintf(stderr,
                 "fleet_sim: undecodable message from controller %d: %s\n",
                 conn, decoded.status().message().c_str());
    ++counts_[conn].errors;
    return;
  }
  if (auto* grant = std::get_if<sluice::LeaseGrant>(&*decoded)) {
    counts_[conn].lines_answered += static_cast<int64_t>(grant->items.size());
    for (const sluice::LeaseGrantItem& item : grant->items) {
      if (item.tokens > 0) ++counts_[conn].lines_granted;
    }
  } else if (std::holds_alternative<sluice::UsageAck>(*decoded)) {
    ++counts_[conn].usage_acked;
  } else if (auto* hb = std::get_if<sluice::Heartbeat>(&*decoded)) {
    const int64_t set_version = a.ownership ? a.ownership->version() : 0;
    if (hb->rules_version > a.rules_version ||
        hb->controllers_version > set_version) {
      Send(agent, conn, sluice::SnapshotRequest{});
    }
  } else if (auto* snap = std::get_if<sluice::RulesSnapshot>(&*decoded)) {
    if (snap->version >= a.rules_version) OnRulesVersion(a, snap->version);
  } else if (auto* delta = std::get_if<sluice::RulesDelta>(&*decoded)) {
    if (delta->base_version == a.rules_version) {
      OnRulesVersion(a, delta->version);
    } else if (delta->version > a.rules_version) {
      Send(agent, conn, sluice::SnapshotRequest{});
    }
  } else if (auto* set = std::get_if<sluice::Controllers>(&*decoded)) {
    AdoptSet(a, set->set);
  } else if (auto* error = std::get_if<sluice::ErrorMessage>(&*decoded)) {
    if (counts_[conn].errors++ == 0) {
      std::fprintf(stderr, "fleet_sim: controller %d says: %s\n", conn,
                   error->message.c_str());
    }
  }
}

void FleetAgents::OnRulesVersion(Agent& a, int64_t version) {
  a.rules_version = version;
  if (probe_target_ > 0 && !a.probe_recorded && version >= probe_target_) {
    a.probe_recorded = true;
    latencies_.push_back(NowMs() - probe_start_ms_);
  }
}

void FleetAgents::AdoptSet(Agent& a, const sluice::ControllerSet& set) {
  if (a.ownership != nullptr && set.version <= a.ownership->version()) return;
  auto& slot = sets_[set.version];
  if (!slot) slot = std::make_unique<sluice::Ownership>(set);
  a.ownership = slot.get();
  Route(a);
}

// Each bucket's connection: its owner's endpoint (members advertise the
// endpoints the simulated agents were given); the first one with no set,
// or when the owner's endpoint is not among them.
void FleetAgents::Route(Agent& a) {
  std::vector<int> member_conn;
  if (a.ownership != nullptr) {
    for (const sluice::ControllerMember& m : a.ownership->set().members) {
      const auto it = std::find(options_.endpoints.begin(),
                                options_.endpoints.end(), m.endpoint);
      member_conn.push_back(
          it == options_.endpoints.end()
              ? 0
              : static_cast<int>(it - options_.endpoints.begin()));
    }
  }
  a.owner_conn.assign(a.values.size(), 0);
  if (member_conn.empty()) return;
  for (size_t b = 0; b < a.values.size(); ++b) {
    a.owner_conn[b] =
        member_conn[static_cast<size_t>(a.ownership->Owner(a.key_hashes[b]))];
  }
}

int FleetAgents::AgentsAtRules(int64_t version) const {
  return static_cast<int>(std::count_if(
      agents_.begin(), agents_.end(),
      [&](const auto& a) { return a->rules_version >= version; }));
}

int64_t FleetAgents::MaxRulesVersion() const {
  int64_t max = 0;
  for (const auto& a : agents_) max = std::max(max, a->rules_version);
  return max;
}

int FleetAgents::AgentsWithMembers(size_t members) const {
  return static_cast<int>(
      std::count_if(agents_.begin(), agents_.end(), [&](const auto& a) {
        return a->ownership != nullptr &&
               a->ownership->set().members.size() == members;
      }));
}

void FleetAgents::ArmProbe(int64_t target, int64_t start_ms) {
  probe_target_ = target;
  probe_start_ms_ = start_ms;
  latencies_.clear();
  for (auto& a : agents_) {
    a->probe_recorded = a->rules_version >= target;
    if (a->probe_recorded) latencies_.push_back(0);
  }
}

std::vector<int64_t> FleetAgents::BucketsPerController() const {
  std::vector<int64_t> out(options_.endpoints.size(), 0);
  for (const auto& a : agents_) {
    for (int c : a->owner_conn) ++out[static_cast<size_t>(c)];
  }
  return out;
}

}  // namespace fleet
