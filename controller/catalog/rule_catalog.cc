#include "controller/catalog/rule_catalog.h"

namespace sluice {

RuleCatalog::Snapshot RuleCatalog::Get() const {
  MutexLock lock(&mu_);
  Snapshot snapshot;
  snapshot.version = version_.load(std::memory_order_relaxed);
  snapshot.rules.reserve(rules_.size());
  for (const auto& entry : rules_) snapshot.rules.push_back(entry.second);
  return snapshot;
}

void RuleCatalog::Replace(int64_t version, std::vector<Rule> rules) {
  {
    MutexLock lock(&mu_);
    if (version < version_.load(std::memory_order_relaxed)) return;
    rules_.clear();
    for (auto& rule : rules) {
      int64_t id = rule.id;
      rules_.emplace(id, std::move(rule));
    }
    version_.store(version, std::memory_order_release);
  }
  Notify();
}

void RuleCatalog::Upsert(int64_t version, const Rule& rule) {
  {
    MutexLock lock(&mu_);
    if (version <= version_.load(std::memory_order_relaxed)) return;
    rules_[rule.id] = rule;
    version_.store(version, std::memory_order_release);
  }
  Notify();
}

void RuleCatalog::Remove(int64_t version, int64_t rule_id) {
  {
    MutexLock lock(&mu_);
    if (version <= version_.load(std::memory_order_relaxed)) return;
    rules_.erase(rule_id);
    version_.store(version, std::memory_order_release);
  }
  Notify();
}

int RuleCatalog::AddListener(std::function<void()> listener) {
  MutexLock lock(&listeners_mu_);
  const int id = next_listener_++;
  listeners_.emplace(id, std::move(listener));
  return id;
}

void RuleCatalog::RemoveListener(int id) {
  MutexLock lock(&listeners_mu_);
  listeners_.erase(id);
}

void RuleCatalog::Notify() {
  MutexLock lock(&listeners_mu_);
  for (const auto& [id, listener] : listeners_) listener();
}

}  // namespace sluice
