// BudgetTable: the lease server's budgets (one BucketAllocator per bucket,
// common/allocator.h), by bucket key.
//
// An open-addressed table of 8-byte slots, linear probing, at most half
// full. Each budget is ONE heap block, its key's bytes inline after it
// (Entry), which never moves. A slot holds the block's address and, in
// the address's unused top 16 bits, 16 bits of the key's hash: a probe
// reads an entry only when those match. (User-space addresses fit in 48
// bits on the 64-bit platforms Linux runs on; should one not, the table
// drops the tags for good and compares every probed entry's key.) A
// lookup touches the slot's cache line, then the entry's: both can be
// prefetched ahead (Prefetch, then PrefetchEntry), so that the lease
// server issues the memory loads of a whole request's items before it
// uses any of them, instead of waiting on two or three cache misses per
// item in turn.
//
// Memory per budget: EntryBytes(key size) in one block of the table's
// EntryArena (the budget, the key's size, the key; rounded up to 8 bytes,
// with no per-block header) and 16 to 32 bytes of slots
// (tests/controller/lease/budget_table_test.cc checks the bound).
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
#include <string_view>
#include <vector>

#include "common/allocator.h"
#include "controller/lease/entry_arena.h"

namespace sluice {

struct Budget {
  BucketAllocator allocator;
  int64_t rule_version;
  // MilliStamps of the last request for it, and of its last allocator
  // Sweep (or creation).
  uint32_t used_ms;
  uint32_t swept_ms;
};

// A time (monotonic nanoseconds) as milliseconds modulo 2^32 (49.7 days):
// enough for the sweep's "not used for 5 s" (docs/leasing.md, "Memory").
inline uint32_t MilliStamp(int64_t now) {
  return static_cast<uint32_t>(now / 1'000'000);
}
// Milliseconds from `stamp` to `now`, modulo 2^32: exact under 49.7 days.
inline int64_t MillisSince(int64_t now, uint32_t stamp) {
  return static_cast<uint32_t>(MilliStamp(now) - stamp);
}

class BudgetTable {
 public:
  BudgetTable();
  ~BudgetTable();
  BudgetTable(const BudgetTable&) = delete;
  BudgetTable& operator=(const BudgetTable&) = delete;

  static uint64_t Hash(std::string_view key);

  // Starts loading the slot where a lookup of `hash` begins.
  void Prefetch(uint64_t hash) const;
  // Starts loading the entry `key` probably has (the first slot of its
  // probe whose hash tag matches; reads its slots: Prefetch them first).
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
  std::string_view KeyAt(size_t position) const;
  // Erases the entry at `position` (which must hold one).
  void EraseAt(size_t position);

  // Bytes of one budget with a key of `key_size` bytes, before the
  // arena's rounding to 8 (one agent; see common/allocator.h for more).
  static size_t EntryBytes(size_t key_size);

  // Calls f(key, budget) for every entry.
  template <typename F>
  void ForEach(F f) {
    for (uint64_t slot : slots_) {
      if (slot != 0) {
        Entry* entry = EntryOf(slot);
        f(entry->key(), entry->budget);
      }
    }
  }

 private:
  // One heap block: the entry, its key's key_size bytes right after
  // key_size (in the struct's tail padding, if any, and beyond).
  struct Entry {
    Budget budget;
    uint32_t key_size;
    char* key_bytes() { return reinterpret_cast<char*>(&key_size + 1); }
    const char* key_bytes() const {
      return reinterpret_cast<const char*>(&key_size + 1);
    }
    std::string_view key() const { return {key_bytes(), key_size}; }
  };
  static constexpr size_t kKeyOffset = sizeof(Budget) + sizeof(uint32_t);

  static constexpr int kTagShift = 48;
  static constexpr uint64_t kAddressMask = (uint64_t{1} << kTagShift) - 1;

  Entry* EntryOf(uint64_t slot) const {
    return reinterpret_cast<Entry*>(tagged_ ? slot & kAddressMask : slot);
  }
  uint64_t SlotFor(Entry* entry, uint64_t hash) const;
  bool TagMatches(uint64_t slot, uint64_t hash) const {
    return !tagged_ || (slot >> kTagShift) == (hash >> kTagShift);
  }
  size_t Home(uint64_t hash) const { return hash & (slots_.size() - 1); }
  // The home of the entry in `slot` (its key hashed again: entries keep no
  // hash, growth and erasure are rare next to lookups).
  size_t HomeOf(uint64_t slot) const {
    return Home(Hash(EntryOf(slot)->key()));
  }
  // The position holding `key`, or the empty one where it would go.
  size_t Probe(std::string_view key, uint64_t hash) const;
  void Grow();
  void DropTags();
  void Destroy(Entry* entry);

  EntryArena arena_;             // the entries' blocks
  std::vector<uint64_t> slots_;  // a power of two; 0: empty
  size_t size_ = 0;
  bool tagged_ = true;  // slots carry hash tags (see the header)
};

}  // namespace sluice
