// ClusterMailbox: where the heartbeat thread (cluster_member.h) leaves the
// outcome of its latest successful round for the lease thread, and where
// the lease thread leaves what it made of it (ClusterState) for /readyz and
// the metrics. Only the latest of each is kept: the lease thread adopts the
// newest stored set, and a missed intermediate one changes nothing (the
// view compares with the set it adopted last).
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "common/membership.h"
#include "platform/mutex.h"

namespace sluice {

// One successful heartbeat round.
struct ClusterOutcome {
  int64_t started = 0;    // monotonic ns when the round started
  ControllerSet stored;   // the set in force after it
  ControllerSet at_join;  // the set stored before this controller joined
};

// What the lease thread's view says (ClusterView), as of its last loop.
struct ClusterState {
  std::string self_id;
  ControllerSet set;  // the set in force (version 0: none yet)
  bool fenced = false;
  bool holding = false;
  int64_t owned_buckets = 0;      // budgets this controller holds
  int64_t ownership_changes = 0;  // adoptions of a new set
};

class ClusterMailbox {
 public:
  void Post(ClusterOutcome outcome) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    outcome_ = std::move(outcome);
    posted_ = true;
  }
  // The newest outcome not yet taken; false when none.
  bool Take(ClusterOutcome* out) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    if (!posted_) return false;
    *out = std::move(outcome_);
    posted_ = false;
    return true;
  }
  void Publish(ClusterState state) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    state_ = std::move(state);
  }
  ClusterState State() const EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return state_;
  }

 private:
  mutable Mutex mu_;
  ClusterOutcome outcome_ GUARDED_BY(mu_);
  bool posted_ GUARDED_BY(mu_) = false;
  ClusterState state_ GUARDED_BY(mu_);
};

}  // namespace sluice
