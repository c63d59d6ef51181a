#include "controller/lease/curve_allowed_keys.h"

#include <algorithm>
#include <utility>

namespace sluice {

AllowedAgentKeys::AllowedAgentKeys() : current_(std::make_shared<Map>()) {}

std::shared_ptr<const AllowedAgentKeys::Map> AllowedAgentKeys::Get() const {
  MutexLock lock(&mu_);
  return current_;
}

bool AllowedAgentKeys::Find(const std::string& public_key,
                            AllowedAgentKey* out) const {
  std::shared_ptr<const Map> map = Get();
  auto it = map->find(public_key);
  if (it == map->end()) return false;
  if (out != nullptr) *out = it->second;
  return true;
}

void AllowedAgentKeys::ApplyLocked(const LocalChange& change, Map* map) {
  if (change.allow) {
    (*map)[change.key.public_key] = change.key;
    return;
  }
  for (auto it = map->begin(); it != map->end();) {
    it = it->second.id == change.key.id ? map->erase(it) : std::next(it);
  }
}

void AllowedAgentKeys::PublishLocked(Map next) {
  if (next == *current_) return;
  current_ = std::make_shared<const Map>(std::move(next));
  version_.fetch_add(1);
}

void AllowedAgentKeys::Allow(AllowedAgentKey key) {
  MutexLock lock(&mu_);
  LocalChange change{next_seq_++, true, std::move(key)};
  Map next = *current_;
  ApplyLocked(change, &next);
  changes_.push_back(std::move(change));
  PublishLocked(std::move(next));
}

void AllowedAgentKeys::Revoke(int64_t id) {
  MutexLock lock(&mu_);
  LocalChange change{next_seq_++, false, AllowedAgentKey{id, "", ""}};
  Map next = *current_;
  ApplyLocked(change, &next);
  changes_.push_back(std::move(change));
  PublishLocked(std::move(next));
}

uint64_t AllowedAgentKeys::BeginReload() {
  MutexLock lock(&mu_);
  // Changes numbered from here on happen after the read starts.
  return next_seq_;
}

void AllowedAgentKeys::FinishReload(uint64_t begin,
                                    const std::vector<AllowedAgentKey>& keys) {
  MutexLock lock(&mu_);
  if (begin < finished_begin_) return;  // a newer read already landed
  finished_begin_ = begin;
  Map next;
  for (const AllowedAgentKey& key : keys) next[key.public_key] = key;
  // Changes before `begin` committed before the read started: the read saw
  // them, and later reads will too. The rest are re-applied and kept.
  changes_.erase(std::remove_if(changes_.begin(), changes_.end(),
                                [begin](const LocalChange& change) {
                                  return change.seq < begin;
                                }),
                 changes_.end());
  for (const LocalChange& change : changes_) ApplyLocked(change, &next);
  PublishLocked(std::move(next));
}

}  // namespace sluice
