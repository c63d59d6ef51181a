// AgentDirectory: what GET /api/v1/agents shows, published by the lease
// server's thread and read by the REST API.
//
// The lease thread keeps, per agent id, when it last heard from the agent
// (wall clock), and what the agent said of itself (its release, rules
// version, buckets and leases, from its usage reports and heartbeats),
// and publishes the whole list now and then (at most every
// kPublishEveryMs); an agent the lease server forgot stays listed as not
// connected for kKeepDisconnectedMs.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "platform/mutex.h"

namespace sluice {

struct AgentStatus {
  std::string id;  // its --agent-id (or routing id before its Hello)
  bool connected = false;
  int64_t last_seen_ms = 0;  // Unix ms
  std::string version;       // "" until its first usage report
  int64_t rules_version = 0;
  int64_t buckets = 0;
  int64_t leases = 0;
};

class AgentDirectory {
 public:
  static constexpr int64_t kPublishEveryMs = 250;
  static constexpr int64_t kKeepDisconnectedMs = 3'600'000;

  void Publish(std::vector<AgentStatus> agents) EXCLUDES(mu_);
  // By id.
  std::vector<AgentStatus> List() const EXCLUDES(mu_);

 private:
  mutable Mutex mu_;
  std::vector<AgentStatus> agents_ GUARDED_BY(mu_);
};

}  // namespace sluice
