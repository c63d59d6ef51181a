// OwnerMap: which controller connection serves each bucket, and whether
// it is reachable (docs/high-availability.md, "the agent's part").
//
// The agent holds one connection per controller it knows (the ones given
// with --controller, and members it learned from a Controllers message).
// With a controller set (version > 0), a bucket belongs to its owner
// (common/membership.h Ownership over common/bucket_key.h's key); the
// bucket's connection is the one serving that member, or none. With no
// set (version 0: older controllers, or none heard from yet), every bucket
// goes to the first reachable connection, in the order given.
//
// A bucket whose connection is missing or unreachable is treated as every
// bucket is while the controller is away: it spends its lease, then
// follows its rule's failure_mode.
//
// Pure and immutable after construction: share it read-only between
// threads (the lease client builds it, the event loop reads it).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/membership.h"

namespace sluice {

class OwnerMap {
 public:
  // Nothing known: no connection, nothing reachable.
  OwnerMap() = default;
  // `member_connection[i]`: the connection serving ownership.set().members[i]
  // (-1: none); `reachable[c]`: connection c answers. With an
  // empty set, member_connection is ignored.
  OwnerMap(Ownership ownership, std::vector<int> member_connection,
           std::vector<bool> reachable);

  // The connection to send the bucket's lease requests to, or -1 when its
  // owner is not reachable (or, with no set, no connection is).
  int Route(std::string_view bucket_key) const;
  bool Reachable(std::string_view bucket_key) const {
    return Route(bucket_key) >= 0;
  }

  // Every bucket has a reachable connection (true with no set when any
  // connection is reachable).
  bool all_reachable() const { return all_; }
  // Some bucket may have one.
  bool any_reachable() const { return any_; }
  int64_t version() const { return ownership_.version(); }
  const Ownership& ownership() const { return ownership_; }
  int connection_count() const {
    return static_cast<int>(connection_reachable_.size());
  }
  bool connection_reachable(int c) const {
    return c >= 0 && c < connection_count() && connection_reachable_[c];
  }

 private:
  Ownership ownership_;
  std::vector<int> member_connection_;  // per member; -1 when unreachable
  std::vector<bool> connection_reachable_;
  int fallback_ = -1;  // with no set: the first reachable connection
  bool all_ = false;
  bool any_ = false;
};

}  // namespace sluice
