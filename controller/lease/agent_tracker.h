// AgentTracker: what the lease thread knows of each agent for
// GET /api/v1/agents (controller/lease/agent_directory.h): when it was last
// heard from, by the wall clock, and what it said of itself.
//
// Pure (times are arguments); thread-compatible: the lease thread owns it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/wire.h"
#include "controller/lease/agent_directory.h"

namespace sluice {

class AgentTracker {
 public:
  // Any message from `peer` (agent_id: its Hello's, "" when unknown).
  void Seen(const std::string& peer, const std::string& agent_id,
            int64_t now_ms);
  void Heartbeat(const std::string& peer, int64_t rules_version);
  void Report(const std::string& peer, const UsageReport& report);
  // The lease server forgot `peer`: listed as not connected from now.
  void Forgotten(const std::string& peer, int64_t now_ms);
  // Every agent, dropping those disconnected for longer than `keep_ms`.
  std::vector<AgentStatus> Snapshot(int64_t now_ms, int64_t keep_ms);

 private:
  std::map<std::string, AgentStatus> by_peer_;
};

}  // namespace sluice
