// ClusterView: what one controller makes of its membership (several
// controllers on one database, docs/high-availability.md), apart from the
// database and the clock. It takes the outcomes of the heartbeat (success
// with the stored controller set, or failure) and says:
//   - which set is in force (the last one adopted) and who owns a bucket;
//   - whether this controller is fenced: its last successful heartbeat
//     started more than fence_ms ago AND the set in force has another
//     member (a controller alone in its set keeps granting through a
//     database outage, as a single controller always has; see the doc);
//   - for a bucket (by StableHash of its key, common/membership.h):
//     kNotOwned (another member owns it), kHeld (gained in the last
//     adoption, hold not over: hold = lease ttl + 2 P + 250 ms), kOwned;
//   - when to start over as a new member: a heartbeat succeeds after none
//     did for more than dead_ms and the stored set's version moved
//     meanwhile (others may have taken and given back our buckets): every
//     budget is dropped and every bucket held.
// Version 0 (nothing adopted yet) owns every bucket, holds none, never
// fences: exactly a controller on its own.
//
// Holds stack: a bucket is held while any adoption whose hold is not over
// gave it to us (it was not ours in the set before that adoption). The
// first adoption after a start compares with the stored set read before
// this controller joined, without the members that share our endpoint
// (earlier incarnations of this controller, whose leases the restart
// learning period covers): a controller alone on its database holds
// nothing, as before several controllers existed.
//
// Pure: every `now` is an argument (monotonic nanoseconds); no I/O.
// Thread-compatible (the lease thread owns it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/membership.h"

namespace sluice {

// The timings of docs/high-availability.md, settable by tests.
struct ClusterTimings {
  int64_t heartbeat_ms = 250;  // P
  int64_t dead_ms = 3000;      // T_dead: others drop a member this stale
  int64_t fence_ms = 1500;     // T_fence: stop granting without heartbeat
  int64_t hold_extra_ms = 0;   // 0 = 2 P + 250 ms, added to the lease ttl
  int64_t HoldMs(int64_t lease_ttl_ms) const {
    return lease_ttl_ms +
           (hold_extra_ms > 0 ? hold_extra_ms : 2 * heartbeat_ms + 250);
  }
};

// What an adoption did, for the ledger and the server.
struct Adoption {
  bool set_changed = false;  // a new version is in force: tell every agent
  bool start_over = false;   // drop every budget (everything held)
};

enum class BucketState { kOwned, kHeld, kNotOwned };

class ClusterView {
 public:
  ClusterView(std::string self_id, int64_t lease_ttl_ms,
              ClusterTimings timings);

  // A heartbeat that started at `started` (monotonic ns) succeeded and
  // found `set` stored. `previous` is the stored set read before this
  // controller first joined (only used on the first adoption); its members
  // whose endpoint equals ours are treated as earlier incarnations.
  // `now`: when the outcome is adopted (holds run from here).
  Adoption OnHeartbeat(int64_t started, int64_t now, const ControllerSet& set,
                       const ControllerSet& previous,
                       const std::string& self_endpoint);

  bool fenced(int64_t now) const;
  // Whether any bucket is held at `now` (the hold of the last adoption).
  bool holding(int64_t now) const { return now < hold_until(); }
  // When the last hold ends (0: none).
  int64_t hold_until() const;
  BucketState StateOf(uint64_t key_hash, int64_t now) const;
  // Whether the set in force assigns buckets to anyone else (else every
  // bucket is ours and StateOf need not be asked, unless holding).
  bool shared() const { return shared_; }
  const Ownership& ownership() const { return current_; }
  const std::string& self_id() const { return self_id_; }
  int64_t version() const { return current_.version(); }
  // Monotonic time of the last successful heartbeat's start (0: none).
  int64_t last_success() const { return last_success_; }

 private:
  struct Hold {
    Ownership before;       // the set before the adoption
    int self = -1;          // our index in `before`
    bool all_ours = false;  // `before` had no members: nothing gained
    bool all = false;       // start over: every bucket held
    int64_t until = 0;
  };
  void AddHold(Hold hold, int64_t now);

  const std::string self_id_;
  const int64_t hold_ns_;
  const ClusterTimings timings_;
  Ownership current_;
  int self_index_ = -1;  // in current_, -1 when absent
  bool shared_ = false;
  std::vector<Hold> holds_;  // pruned of those over at each adoption
  int64_t last_success_ = 0;
};

}  // namespace sluice
