#include "controller/lease/agent_tracker.h"

#include <algorithm>

namespace sluice {

void AgentTracker::Seen(const std::string& peer, const std::string& agent_id,
                        int64_t now_ms) {
  AgentStatus& status = by_peer_[peer];
  if (!agent_id.empty()) {
    status.id = agent_id;
  } else if (status.id.empty()) {
    status.id = peer;
  }
  status.connected = true;
  status.last_seen_ms = now_ms;
}

void AgentTracker::Heartbeat(const std::string& peer, int64_t rules_version) {
  auto it = by_peer_.find(peer);
  if (it != by_peer_.end()) it->second.rules_version = rules_version;
}

void AgentTracker::Report(const std::string& peer, const UsageReport& report) {
  auto it = by_peer_.find(peer);
  if (it == by_peer_.end()) return;
  AgentStatus& status = it->second;
  if (!report.agent_id.empty()) status.id = report.agent_id;
  status.version = report.version;
  status.rules_version = report.rules_version;
  status.buckets = report.buckets;
  status.leases = report.leases;
}

void AgentTracker::Forgotten(const std::string& peer, int64_t now_ms) {
  auto it = by_peer_.find(peer);
  if (it == by_peer_.end()) return;
  it->second.connected = false;
  it->second.leases = 0;
  it->second.last_seen_ms = std::min(it->second.last_seen_ms, now_ms);
}

std::vector<AgentStatus> AgentTracker::Snapshot(int64_t now_ms,
                                                int64_t keep_ms) {
  std::vector<AgentStatus> out;
  for (auto it = by_peer_.begin(); it != by_peer_.end();) {
    if (!it->second.connected && now_ms - it->second.last_seen_ms > keep_ms) {
      it = by_peer_.erase(it);
      continue;
    }
    out.push_back(it->second);
    ++it;
  }
  return out;
}

}  // namespace sluice
