#include "controller/lease/agent_registry.h"

#include <utility>

namespace sluice {

AgentRecord& AgentRegistry::Touch(const std::string& peer, int64_t now,
                                  std::string_view curve_key, bool* is_new) {
  auto [it, inserted] = agents_.try_emplace(peer);
  AgentRecord& record = it->second;
  if (inserted) record.number = next_number_++;
  record.last_seen = now;
  record.curve_key.assign(curve_key.data(), curve_key.size());
  *is_new = inserted;
  return record;
}

const AgentRecord* AgentRegistry::Find(const std::string& peer) const {
  auto it = agents_.find(peer);
  return it == agents_.end() ? nullptr : &it->second;
}

AgentRecord* AgentRegistry::Find(const std::string& peer) {
  auto it = agents_.find(peer);
  return it == agents_.end() ? nullptr : &it->second;
}

bool AgentRegistry::Remove(const std::string& peer, AgentRecord* removed) {
  auto it = agents_.find(peer);
  if (it == agents_.end()) return false;
  *removed = std::move(it->second);
  agents_.erase(it);
  return true;
}

void AgentRegistry::AppendSilent(int64_t now, int64_t timeout_ns,
                                 std::vector<std::string>* out) const {
  for (const auto& [peer, record] : agents_) {
    if (now - record.last_seen > timeout_ns) out->push_back(peer);
  }
}

}  // namespace sluice
