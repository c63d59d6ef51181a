// RuleCatalog: the controller's in-memory copy of the committed rule set and
// its global version. The REST API updates it after each committed change;
// the lease server reads it to send snapshots and deltas to agents.
//
// Thread-safe: every method may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "common/rule.h"
#include "platform/mutex.h"

namespace sluice {

class RuleCatalog {
 public:
  struct Snapshot {
    int64_t version = 0;
    std::vector<Rule> rules;  // sorted by id
  };

  Snapshot Get() const EXCLUDES(mu_);
  // Cheap; lets a reader skip Get() when nothing changed.
  int64_t version() const { return version_.load(std::memory_order_acquire); }

  // Replaces everything (startup load, reload after a reconnect). Ignored
  // when `version` is older than the current one.
  void Replace(int64_t version, std::vector<Rule> rules) EXCLUDES(mu_);
  // Records one committed change. Ignored when `version` is not newer than
  // the current one (a reload already covered it).
  void Upsert(int64_t version, const Rule& rule) EXCLUDES(mu_);
  void Remove(int64_t version, int64_t rule_id) EXCLUDES(mu_);

  // Calls `listener` after each change the catalog applies (not after an
  // ignored one), on the thread that made it, with no lock of the
  // catalog's data held: it must be quick and must not call back into the
  // catalog's writers. Returns an id for RemoveListener(), which waits for
  // a call under way to return.
  int AddListener(std::function<void()> listener) EXCLUDES(listeners_mu_);
  void RemoveListener(int id) EXCLUDES(listeners_mu_);

 private:
  void Notify() EXCLUDES(listeners_mu_);

  mutable Mutex mu_;
  std::map<int64_t, Rule> rules_ GUARDED_BY(mu_);
  // Written under mu_ (with rules_); read without it by version().
  std::atomic<int64_t> version_{0};
  Mutex listeners_mu_;
  std::map<int, std::function<void()>> listeners_ GUARDED_BY(listeners_mu_);
  int next_listener_ GUARDED_BY(listeners_mu_) = 0;
};

}  // namespace sluice
