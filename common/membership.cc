#include "common/membership.h"

#include <algorithm>

namespace sluice {
namespace {

constexpr size_t kMaxField = 256;

uint64_t Mix(uint64_t x) {
  // SplitMix64's finaliser: every input bit affects every output bit.
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

Status BadMember(size_t i, const std::string& what) {
  return Status::InvalidArgument(
      "controller set member " + std::to_string(i) + ": " + what, "members");
}

}  // namespace

bool operator==(const ControllerMember& a, const ControllerMember& b) {
  return a.id == b.id && a.endpoint == b.endpoint;
}

bool operator==(const ControllerSet& a, const ControllerSet& b) {
  return a.version == b.version && a.members == b.members;
}

Status ValidateControllerSet(const ControllerSet& set) {
  if (set.version < 0) {
    return Status::InvalidArgument(
        "controller set version must be 0 or more, got " +
            std::to_string(set.version),
        "version");
  }
  if (set.version == 0 && !set.members.empty()) {
    return Status::InvalidArgument(
        "a controller set with members needs a version of 1 or more",
        "version");
  }
  for (size_t i = 0; i < set.members.size(); ++i) {
    const ControllerMember& m = set.members[i];
    if (m.id.empty() || m.id.size() > kMaxField) {
      return BadMember(i, "id must be 1 to 256 bytes");
    }
    if (m.endpoint.empty() || m.endpoint.size() > kMaxField) {
      return BadMember(i,
                       "endpoint must be 1 to 256 bytes (a ZeroMQ "
                       "endpoint such as tcp://10.0.0.5:7070)");
    }
    if (i > 0 && !(set.members[i - 1].id < m.id)) {
      return BadMember(i, "ids must be unique and sorted; \"" + m.id +
                              "\" follows \"" + set.members[i - 1].id + "\"");
    }
  }
  return Status::Ok();
}

void SortMembers(std::vector<ControllerMember>* members) {
  std::stable_sort(members->begin(), members->end(),
                   [](const ControllerMember& a, const ControllerMember& b) {
                     return a.id < b.id;
                   });
}

uint64_t StableHash(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64 offset basis
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;  // FNV-1a 64 prime
  }
  return Mix(h);
}

Ownership::Ownership(ControllerSet set) : set_(std::move(set)) {
  member_hashes_.reserve(set_.members.size());
  for (const ControllerMember& m : set_.members) {
    member_hashes_.push_back(StableHash(m.id));
  }
}

int Ownership::Owner(uint64_t key_hash) const {
  int best = -1;
  uint64_t best_score = 0;
  for (size_t i = 0; i < member_hashes_.size(); ++i) {
    const uint64_t score = Mix(key_hash ^ member_hashes_[i]);
    // Ties (practically never) go to the lower index: the lower id.
    if (best < 0 || score > best_score) {
      best = static_cast<int>(i);
      best_score = score;
    }
  }
  return best;
}

const ControllerMember* Ownership::OwnerOf(std::string_view bucket_key) const {
  const int i = Owner(StableHash(bucket_key));
  return i < 0 ? nullptr : &set_.members[static_cast<size_t>(i)];
}

int Ownership::IndexOf(std::string_view id) const {
  for (size_t i = 0; i < set_.members.size(); ++i) {
    if (set_.members[i].id == id) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace sluice
