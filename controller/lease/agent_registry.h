// AgentRegistry: the agents the lease server knows, by ZeroMQ routing id
// ("peer"). An agent is known from its first message on (a Hello, or any
// message after a controller restart) until it is forgotten: silent for the
// agent timeout, its connection found closed, or its key revoked.
//
// Each agent gets a number when it becomes known, never reused (not even
// for the same peer coming back), under which the budgets
// (common/allocator.h) keep its demand and shares: an agent forgotten and
// back starts afresh everywhere.
//
// Pure: no clock reads (times are arguments), no I/O, no exceptions.
// Thread-compatible: the lease thread owns it (inside LeaseLedger).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sluice {

struct AgentRecord {
  std::string agent_id;   // from its Hello; empty until one arrives
  int64_t last_seen = 0;  // its last message
  std::string curve_key;  // Z85 key of its last message (CURVE; else "")
  uint64_t number = 0;    // its id in the budgets, >= 1, never reused
  double weight = 1.0;    // in the max-min division of every budget
};

class AgentRegistry {
 public:
  // A message from `peer` at `now`, authenticated with `curve_key`:
  // registers it if unknown, marks it seen. Sets *is_new when it was
  // unknown. Allocates nothing for a known peer.
  AgentRecord& Touch(const std::string& peer, int64_t now,
                     std::string_view curve_key, bool* is_new);
  // The record of `peer`, or nullptr.
  const AgentRecord* Find(const std::string& peer) const;
  AgentRecord* Find(const std::string& peer);
  // Removes `peer`; false if it was unknown. Moves its record to *removed.
  bool Remove(const std::string& peer, AgentRecord* removed);
  // Appends the peers silent at `now` for more than `timeout_ns`.
  void AppendSilent(int64_t now, int64_t timeout_ns,
                    std::vector<std::string>* out) const;

  size_t size() const { return agents_.size(); }
  // Calls f(peer, record) for every agent; f must not add or remove any.
  template <typename F>
  void ForEach(F f) const {
    for (const auto& [peer, record] : agents_) f(peer, record);
  }

 private:
  std::unordered_map<std::string, AgentRecord> agents_;  // by routing id
  uint64_t next_number_ = 1;
};

}  // namespace sluice
