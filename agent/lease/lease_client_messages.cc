// The lease client's protocol (see lease_client_impl.h): what each message
// from a controller does, reachability, the rule set, and lease requests
// and their grants. Runs on the client's thread.
#include <algorithm>
#include <iterator>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "agent/lease/controller_plan.h"
#include "agent/lease/lease_client_impl.h"
#include "common/bucket_key.h"
#include "common/clock.h"
#include "common/rule_index.h"
#include "platform/log.h"

namespace sluice {
namespace {

constexpr std::string_view kLog = "lease-client";
// Buckets in one LeaseRequest (about 100 bytes of JSON each, so a few
// hundred KB at most, well under kMaxWireMessageBytes).
constexpr size_t kMaxItemsPerRequest = 4096;
// At most one SnapshotRequest per this interval.
constexpr int64_t kSnapshotRequestIntervalNanos = 250 * kNanosPerMilli;
// A request unanswered for this long is forgotten; its grant, if it ever
// comes, is ignored.
constexpr int64_t kPendingMaxAgeNanos = 60 * kNanosPerSecond;
constexpr int64_t kWarnIntervalNanos = kNanosPerSecond;

}  // namespace

void LeaseClient::Impl::HandleFrames(Connection* c,
                                     std::vector<zmq::message_t>* parts,
                                     int64_t now) {
  // Any frame shows the controller is there.
  c->last_receive = now;
  if (!c->reachable) {
    c->reachable = true;
    LogInfo(kLog, "controller at " + c->endpoint + " is reachable");
    RebuildOwners();
    // It may be a restarted controller: introduce ourselves again.
    if (c->lost_before) SendHello(c);
  }
  if (parts->size() != 1) {
    Warn(now, "ignored a message of " + std::to_string(parts->size()) +
                  " frames from the controller at " + c->endpoint +
                  "; expected one frame");
    return;
  }
  StatusOr<WireMessage> decoded =
      DecodeWireMessage((*parts)[0].to_string_view());
  if (!decoded.ok()) {
    Warn(now, "ignored a bad message from the controller at " + c->endpoint +
                  ": " + decoded.status().message());
    return;
  }
  WireMessage& message = decoded.value();
  if (auto* snapshot = std::get_if<RulesSnapshot>(&message)) {
    HandleSnapshot(c, snapshot);
  } else if (const auto* delta = std::get_if<RulesDelta>(&message)) {
    HandleDelta(c, *delta, now);
  } else if (const auto* heartbeat = std::get_if<Heartbeat>(&message)) {
    HandleHeartbeat(c, *heartbeat, now);
  } else if (const auto* grant = std::get_if<LeaseGrant>(&message)) {
    HandleGrant(*grant, now);
  } else if (const auto* ack = std::get_if<UsageAck>(&message)) {
    usage_outbox_.Ack(ack->incarnation, ack->seq);
  } else if (const auto* error = std::get_if<ErrorMessage>(&message)) {
    Warn(now, "the controller at " + c->endpoint +
                  " refused a message: " + error->message);
  } else if (const auto* set = std::get_if<Controllers>(&message)) {
    HandleControllers(c, *set, now);
  } else {
    Warn(now,
         std::string("ignored a message only agents send (") +
             (std::holds_alternative<Hello>(message) ? "Hello"
              : std::holds_alternative<SnapshotRequest>(message)
                  ? "SnapshotRequest"
              : std::holds_alternative<UsageReport>(message) ? "UsageReport"
                                                             : "LeaseRequest") +
             ") from the controller at " + c->endpoint +
             "; it sends RulesSnapshot, RulesDelta, Controllers, Heartbeat, "
             "LeaseGrant, UsageAck or ErrorMessage");
  }
}

void LeaseClient::Impl::HandleHeartbeat(Connection* c,
                                        const Heartbeat& heartbeat,
                                        int64_t now) {
  SetAgents(c, heartbeat.agents);
  if (HeartbeatWantsRules(have_rules_, version_, heartbeat.rules_version,
                          single_controller())) {
    RequestSnapshot(c, now,
                    "the controller at " + c->endpoint +
                        " is at rules version " +
                        std::to_string(heartbeat.rules_version));
  } else if (AdoptsControllerSet(set_.version, heartbeat.controllers_version)) {
    // The snapshot brings its Controllers.
    RequestSnapshot(c, now,
                    "the controller at " + c->endpoint +
                        " has controller set version " +
                        std::to_string(heartbeat.controllers_version));
  }
}

void LeaseClient::Impl::HandleSnapshot(Connection* c, RulesSnapshot* snapshot) {
  c->snapshot_requested = false;
  SetAgents(c, snapshot->agents);
  if (!AcceptsRulesSnapshot(have_rules_, version_, snapshot->version,
                            single_controller())) {
    return;  // a lagging controller: it catches up, the agent does not wait
  }
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

void LeaseClient::Impl::HandleDelta(Connection* c, const RulesDelta& delta,
                                    int64_t now) {
  if (!have_rules_ || delta.base_version != version_) {
    // Every controller sends each change: a delta this agent already has
    // (or an older one, from a lagging controller) is no news.
    if (have_rules_ && delta.version <= version_ && !single_controller()) {
      return;
    }
    RequestSnapshot(
        c, now,
        "a delta from version " + std::to_string(delta.base_version) +
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
  const int64_t sent_at = it->second.sent_at;
  pending_.erase(it);
  if (callbacks_.on_grant) callbacks_.on_grant(grant, sent_at);
}

void LeaseClient::Impl::CheckReachable(int64_t now) {
  bool changed = false;
  for (const auto& c : io_->connections) {
    if (!c->reachable || now - c->last_receive <=
                             options_.reachable_timeout_ms * kNanosPerMilli) {
      continue;
    }
    c->reachable = false;
    c->lost_before = true;
    changed = true;
    LogWarn(kLog, "controller at " + c->endpoint +
                      " is unreachable: nothing heard for " +
                      std::to_string(options_.reachable_timeout_ms) + " ms");
  }
  if (changed) RebuildOwners();
}

void LeaseClient::Impl::RouteItems(std::vector<LeaseWant>* items,
                                   std::map<int, std::vector<LeaseWant>>* out) {
  const OwnerMap& owners = *owners_;
  if (owners.ownership().empty()) {
    // No set: everything to one controller, without building keys.
    std::vector<LeaseWant>& to = (*out)[owners.Route({})];
    if (to.empty()) {
      to.swap(*items);
    } else {
      std::move(items->begin(), items->end(), std::back_inserter(to));
    }
    return;
  }
  for (LeaseWant& want : *items) {
    MakeBucketKey(want.rule_id, want.values, &key_scratch_);
    (*out)[owners.Route(key_scratch_)].push_back(std::move(want));
  }
}

void LeaseClient::Impl::SendRequests(Connection* c,
                                     std::vector<LeaseWant>* items,
                                     int64_t* dropped) {
  LeaseRequest request;
  auto send = [&] {
    request.seq = next_seq_++;
    pending_[request.seq] = PendingRequest{clock_->NowNanos(), c->serial};
    if (!Send(c, request)) {
      pending_.erase(request.seq);
      ++*dropped;
    }
    request.items.clear();
  };
  // One request per Submit() and controller, split only when it is very
  // large (a sweep of a big table) to keep messages well under
  // kMaxWireMessageBytes.
  if (items->size() <= kMaxItemsPerRequest) {
    request.items.swap(*items);
    send();
    return;
  }
  for (LeaseWant& want : *items) {
    request.items.push_back(std::move(want));
    if (request.items.size() == kMaxItemsPerRequest) send();
  }
  if (!request.items.empty()) send();
}

void LeaseClient::Impl::FlushSubmits(int64_t now) {
  std::vector<std::vector<LeaseWant>> batch;
  std::vector<std::vector<LeaseWant>> unsent;
  uint64_t taking = 0;
  {
    MutexLock lock(&mu_);
    batch.swap(queue_);
    unsent.swap(unsent_);
    wake_pending_ = false;
    taking = batches_given_;
  }
  if (callbacks_.on_submitted) {
    for (const std::vector<LeaseWant>& items : unsent) {
      callbacks_.on_submitted(items);
    }
  }
  int64_t dropped = 0;
  int64_t unrouted = 0;
  for (std::vector<LeaseWant>& items : batch) {
    if (callbacks_.on_submitted) callbacks_.on_submitted(items);
    if (!owners_->any_reachable()) {
      ++dropped;
      continue;
    }
    std::map<int, std::vector<LeaseWant>> routed;
    RouteItems(&items, &routed);
    for (auto& [index, wants] : routed) {
      if (index < 0) {
        unrouted += static_cast<int64_t>(wants.size());
        continue;
      }
      SendRequests(io_->connections[static_cast<size_t>(index)].get(), &wants,
                   &dropped);
    }
  }
  if (dropped > 0) {
    Warn(now, "dropped " + std::to_string(dropped) +
                  " lease requests: the controller at " + options_.endpoint +
                  " is not reachable (buckets retry)");
  }
  if (unrouted > 0) {
    Warn(now, "dropped " + std::to_string(unrouted) +
                  " lease request items: their owner in controller set " +
                  std::to_string(set_.version) +
                  " is not reachable (buckets retry)");
  }
  MutexLock lock(&mu_);
  if (taking > batches_taken_) {
    batches_taken_ = taking;
    taken_cv_.NotifyAll();
  }
}

void LeaseClient::Impl::PrunePending(int64_t now) {
  // Seqs grow with time, so the oldest requests come first.
  while (!pending_.empty() &&
         now - pending_.begin()->second.sent_at > kPendingMaxAgeNanos) {
    pending_.erase(pending_.begin());
  }
}

void LeaseClient::Impl::SetAgents(Connection* c, int64_t agents) {
  c->agents = std::max<int64_t>(1, agents);
  NotifyController();
}

void LeaseClient::Impl::NotifyController() {
  // The agents the reachable controllers count; with none reachable, the
  // last count any of them gave (the safe share while they are away stays
  // limit / agents, never the whole limit).
  bool reachable = false;
  int64_t reachable_agents = 1;
  int64_t known_agents = 1;
  for (const auto& c : io_->connections) {
    known_agents = std::max(known_agents, c->agents);
    if (!c->reachable) continue;
    reachable = true;
    reachable_agents = std::max(reachable_agents, c->agents);
  }
  agents_ = reachable ? reachable_agents : known_agents;
  owner_->agents_.store(agents_);
  if (notified_ && notified_reachable_ == reachable &&
      notified_agents_ == agents_) {
    return;
  }
  notified_ = true;
  notified_reachable_ = reachable;
  notified_agents_ = agents_;
  if (callbacks_.on_controller) callbacks_.on_controller(reachable, agents_);
}

void LeaseClient::Impl::PublishRules() {
  owner_->rules_version_.store(version_);
  if (!callbacks_.on_rules) return;
  std::vector<Rule> rules;
  rules.reserve(rules_.size());
  for (const auto& entry : rules_) rules.push_back(entry.second);
  callbacks_.on_rules(RuleIndex::Build(std::move(rules), version_));
}

void LeaseClient::Impl::RequestSnapshot(Connection* c, int64_t now,
                                        std::string_view why) {
  if (c->snapshot_requested &&
      now - c->last_snapshot_request < kSnapshotRequestIntervalNanos &&
      now >= c->last_snapshot_request) {
    return;
  }
  if (Send(c, SnapshotRequest{})) {
    c->snapshot_requested = true;
    c->last_snapshot_request = now;
    LogInfo(kLog,
            "asked the controller for a rules snapshot: " + std::string(why));
  }
}

void LeaseClient::Impl::SendHello(Connection* c) {
  Hello hello;
  hello.agent_id = options_.agent_id;
  hello.rules_version = have_rules_ ? version_ : 0;
  c->hello_pending = !Send(c, hello);
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

}  // namespace sluice
