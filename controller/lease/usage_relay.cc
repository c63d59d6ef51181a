#include "controller/lease/usage_relay.h"

#include <chrono>

namespace sluice {
namespace {

int64_t WallMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

bool UsageRelay::Offer(const std::string& peer, UsageReport* report) {
  tracker_.Report(peer, *report);
  return sink_->Offer(peer, std::move(*report));
}

void UsageRelay::Pump(
    const std::function<void(const std::string&, const UsageAck&)>& send) {
  if (sink_ != nullptr) {
    acks_.clear();
    sink_->TakeAcks(&acks_);
    for (const auto& [peer, ack] : acks_) send(peer, ack);
  }
  if (directory_ == nullptr) return;
  const int64_t now_ms = WallMillis();
  if (now_ms - published_ms_ < AgentDirectory::kPublishEveryMs) return;
  published_ms_ = now_ms;
  directory_->Publish(
      tracker_.Snapshot(now_ms, AgentDirectory::kKeepDisconnectedMs));
}

void UsageRelay::Track(const std::string& peer, const std::string& agent_id,
                       const WireMessage& message) {
  tracker_.Seen(peer, agent_id, WallMillis());
  if (const auto* heartbeat = std::get_if<Heartbeat>(&message)) {
    tracker_.Heartbeat(peer, heartbeat->rules_version);
  } else if (const auto* hello = std::get_if<Hello>(&message)) {
    tracker_.Heartbeat(peer, hello->rules_version);
  }
}

void UsageRelay::Forgotten(const std::string& peer) {
  tracker_.Forgotten(peer, WallMillis());
}

}  // namespace sluice
