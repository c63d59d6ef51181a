// Several controllers: who they are, and which of them owns a bucket.
//
// Controllers that share one database register there and keep a heartbeat;
// the database holds one versioned "controller set" that every controller
// adopts (docs/high-availability.md says how it is kept). A controller
// tells its agents the set (the Controllers wire message, common/wire.h);
// agents and controllers then agree, without asking anyone, on the owner of
// every bucket: rendezvous (highest random weight) hashing of the bucket's
// key (common/bucket_key.h) over the members' ids. When a member joins or
// leaves, only the buckets it gains or loses change owner (about 1/N of
// them).
//
// The hash is part of the protocol: an agent and a controller of different
// builds, or on different hosts, must compute the same owner. It is defined
// here byte by byte (FNV-1a 64 over the bytes, then the SplitMix64
// finaliser), never std::hash.
//
// Pure functions and values; thread-compatible (Ownership is immutable after
// construction, so it may be shared read-only between threads).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice {

struct ControllerMember {
  std::string id;        // unique per controller process (incarnation)
  std::string endpoint;  // the ZeroMQ endpoint agents reach it at
};

// The members that own buckets, at one version. Versions only grow; a
// higher version replaces a lower one wherever both are seen. Version 0
// with no members: nothing known (a controller that does not take part in
// a set, or an agent that has heard of none).
struct ControllerSet {
  int64_t version = 0;
  std::vector<ControllerMember> members;  // sorted by id, ids unique
};

bool operator==(const ControllerMember& a, const ControllerMember& b);
bool operator==(const ControllerSet& a, const ControllerSet& b);

// InvalidArgument, naming the member, unless every id and endpoint is
// non-empty (and at most 256 bytes), the ids are unique and sorted, and
// version >= 0 (version 0 only with no members).
Status ValidateControllerSet(const ControllerSet& set);

// Sorts members by id (stable for equal ids; ValidateControllerSet refuses
// duplicates).
void SortMembers(std::vector<ControllerMember>* members);

// The stable 64-bit hash of some bytes (FNV-1a 64, SplitMix64 finaliser).
uint64_t StableHash(std::string_view bytes);

// Who owns which bucket in one ControllerSet. Cheap to copy the set into;
// Owner() costs one multiply-xor per member.
class Ownership {
 public:
  Ownership() = default;
  explicit Ownership(ControllerSet set);

  const ControllerSet& set() const { return set_; }
  int64_t version() const { return set_.version; }
  bool empty() const { return set_.members.empty(); }

  // The index in set().members of the owner of the bucket whose key hashes
  // (StableHash of common/bucket_key.h's encoded key) to `key_hash`; -1
  // when there are no members.
  int Owner(uint64_t key_hash) const;
  // The owner's member, or nullptr when there are none.
  const ControllerMember* OwnerOf(std::string_view bucket_key) const;
  // The index of the member with this id, or -1.
  int IndexOf(std::string_view id) const;

 private:
  ControllerSet set_;
  std::vector<uint64_t> member_hashes_;  // StableHash(id), same order
};

}  // namespace sluice
