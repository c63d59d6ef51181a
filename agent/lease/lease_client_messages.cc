// The lease client's protocol (see lease_client_impl.h): what each message
// from the controller does, reachability, the rule set, and lease requests
// and their grants. Runs on the client's thread.
#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "agent/lease/lease_client_impl.h"
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
  } else if (const auto* ack = std::get_if<UsageAck>(&message)) {
    usage_outbox_.Ack(ack->incarnation, ack->seq);
  } else if (const auto* error = std::get_if<ErrorMessage>(&message)) {
    Warn(now, "the controller refused a message: " + error->message);
  } else if (std::holds_alternative<Controllers>(message)) {
    // The controller set: this client follows one controller.
  } else {
    Warn(now,
         std::string("ignored a message only agents send (") +
             (std::holds_alternative<Hello>(message) ? "Hello"
              : std::holds_alternative<SnapshotRequest>(message)
                  ? "SnapshotRequest"
              : std::holds_alternative<UsageReport>(message) ? "UsageReport"
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
    MutexLock lock(&mu_);
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
