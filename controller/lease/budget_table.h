// BudgetTable: the lease server's budgets (one BucketAllocator per bucket,
// common/allocator.h), by bucket key.
//
// An open-addressed table of (hash, entry) slots, linear probing, at most
// half full; entries live on the heap and never move. A lookup touches the
// slot's cache line, then the entry's: both can be prefetched ahead
// (Prefetch, then PrefetchEntry), so that the lease server issues the
// memory loads of a whole request's items before it uses any of them,
// instead of waiting on two or three cache misses per item in turn.
//
// Positions (0..capacity()-1) let a sweep walk the table a slice at a
// time. EraseAt() moves a later entry into the erased position
// (backward-shift deletion): a walker re-examines the same position. A
// growth rehashes all positions; a walk under way may then see some entries
// twice or miss some once.
//
// Thread-compatible: the lease server's thread owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/allocator.h"

namespace sluice {

struct Budget {
  BucketAllocator allocator;
  int64_t rule_version;
  int64_t used_at;   // the last request for it
  int64_t swept_at;  // the last allocator Sweep (or creation)
};

class BudgetTable {
 public:
  BudgetTable();

  static uint64_t Hash(std::string_view key);

  // Starts loading the slot where a lookup of `hash` begins.
  void Prefetch(uint64_t hash) const;
  // Starts loading the entry of `key` if it is there (reads its slots:
  // Prefetch them first).
  void PrefetchEntry(std::string_view key, uint64_t hash) const;

  // The budget of `key`, or nullptr.
  Budget* Find(std::string_view key, uint64_t hash);
  // Adds `key` (which must be absent) and returns its budget.
  Budget* Insert(std::string_view key, uint64_t hash, Budget budget);
  void Erase(std::string_view key, uint64_t hash);

  size_t size() const { return size_; }
  size_t capacity() const { return slots_.size(); }
  // The entry at `position` (< capacity()), or nullptr when empty.
  Budget* At(size_t position);
  const std::string& KeyAt(size_t position) const;
  // Erases the entry at `position` (which must hold one).
  void EraseAt(size_t position);

  // Calls f(key, budget) for every entry.
  template <typename F>
  void ForEach(F f) {
    for (Slot& slot : slots_) {
      if (slot.entry) f(slot.entry->key, slot.entry->budget);
    }
  }

 private:
  struct Entry {
    std::string key;
    Budget budget;
  };
  struct Slot {
    uint64_t hash = 0;
    std::unique_ptr<Entry> entry;
  };

  size_t Home(uint64_t hash) const { return hash & (slots_.size() - 1); }
  // The position holding `key`, or the empty one where it would go.
  size_t Probe(std::string_view key, uint64_t hash) const;
  void Grow();

  std::vector<Slot> slots_;  // a power of two
  size_t size_ = 0;
};

}  // namespace sluice
