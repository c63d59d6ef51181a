#include "controller/lease/agent_directory.h"

#include <algorithm>
#include <utility>

namespace sluice {

void AgentDirectory::Publish(std::vector<AgentStatus> agents) {
  std::sort(
      agents.begin(), agents.end(),
      [](const AgentStatus& a, const AgentStatus& b) { return a.id < b.id; });
  MutexLock lock(&mu_);
  agents_ = std::move(agents);
}

std::vector<AgentStatus> AgentDirectory::List() const {
  MutexLock lock(&mu_);
  return agents_;
}

}  // namespace sluice
