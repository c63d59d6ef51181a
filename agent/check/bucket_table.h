// BucketTable: the agent's buckets, bucket key (bytes from BuildBucketKey,
// common/bucket_key.h) -> LocalBucket, in an open-addressing hash table.
//
// Layout (chosen for the hot path and for memory per bucket):
//   - entries (96 bytes: the 64-byte LocalBucket, the key and the owner's
//     flags) live densely in pages of kPageEntries, addressed by a Handle
//     (0..size()-1). Pages never move, so a LocalBucket& stays valid while
//     other buckets are created; only Remove() moves an entry.
//   - an index of 4-byte slots, linear probing, at most 3/4 full, deletion
//     by backward shift (no tombstones); it doubles when full and halves
//     when under 1/8 full. A slot holds handle + 1 (0: empty) in its low
//     bits and, in the bits the handles do not need, a tag from the key's
//     hash, so a probe rarely reads an entry whose key differs (12 tag bits
//     with the default cap of 1M buckets; none at kMaxBucketsLimit, where
//     every probe compares keys). The hash is not stored: rehashing and
//     deletion recompute it from the entry's key.
//   - a key of up to kInlineKeyBytes (24) bytes is stored inside its entry
//     (rule id + one wildcard value of up to 12 bytes, e.g. redis-benchmark's
//     12-digit __rand_int__); longer keys take one heap allocation.
//   - pages and the index are anonymous memory mappings of their own, not
//     malloc's heap: pages not yet touched cost no resident memory, a page
//     or index given up goes back to the system at once (but for spare
//     pages, an eighth of those in use, kept for churn), and short-lived
//     allocations elsewhere in the agent cannot pin the table's memory.
// So a bucket costs 96 bytes, plus 5.3 to 10.7 bytes of index while the
// table grows (8.4 at 1M buckets; up to 32 after removals, before the index
// halves), plus the key when it is longer than 24 bytes. Measured by
// tests/bench/agent_memory.sh: about 110 resident bytes per bucket at 1M.
//
// Find() of a known key hashes it once and never allocates. FindOrCreate()
// refuses to create more than max_buckets buckets (the --max-buckets flag):
// it returns kNone, and the caller reports that the cap was reached. When
// the system refuses memory for a new page or index, FindOrCreate throws
// std::bad_alloc, as `new` would.
//
// Invariants:
//   1. size() <= max_buckets().
//   2. Every handle in [0, size()) holds one entry whose key is in the index
//      exactly once; slots hold no other handles.
//   3. Handles are stable until Remove(h), which moves the last entry into
//      h (so the last handle becomes h) and frees the old last handle.
//   4. A slot's tag is the tag of its entry key's hash.
//
// Thread-compatible: owned by the agent's event loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/local_bucket.h"
#include "common/rule.h"

namespace sluice {

class BucketTable {
 public:
  using Handle = uint32_t;
  static constexpr Handle kNone = UINT32_MAX;
  static constexpr size_t kInlineKeyBytes = 24;
  static constexpr size_t kPageEntries = 1024;
  // The most buckets a table can be asked to hold (handles are 32-bit).
  static constexpr size_t kMaxBucketsLimit = size_t{1} << 31;

  // `max_buckets` is clamped to 1..kMaxBucketsLimit.
  explicit BucketTable(size_t max_buckets);
  ~BucketTable();
  BucketTable(const BucketTable&) = delete;
  BucketTable& operator=(const BucketTable&) = delete;

  // The bucket of `key`, or kNone.
  Handle Find(std::string_view key) const;

  // The bucket of `key`; when absent, creates LocalBucket(rule, now, ctx)
  // and sets *created (if given). kNone when absent and the table is full.
  Handle FindOrCreate(std::string_view key, const Rule& rule, int64_t now,
                      const LeaseContext& ctx, bool* created = nullptr);

  // For a caller that looks up many keys at once (the checker, for a
  // pipeline of checks): the hash a lookup of `key` uses, a hint that starts
  // loading what a lookup of that hash reads (stage 0: its index slot;
  // stage 1, once the slot is likely loaded: the entry it points to), so
  // that the memory loads of many lookups overlap, and FindOrCreate with
  // the hash given. Hints change nothing.
  static uint64_t HashOf(std::string_view key) { return Hash(key); }
  void Prefetch(uint64_t hash, int stage) const;
  Handle Find(std::string_view key, uint64_t hash) const {
    return size_ == 0 ? kNone : FindHashed(key, hash);
  }
  Handle FindOrCreate(std::string_view key, uint64_t hash, const Rule& rule,
                      int64_t now, const LeaseContext& ctx,
                      bool* created = nullptr);

  // Removes the bucket at `h` (< size()). See invariant 3.
  void Remove(Handle h);
  void Clear();

  LocalBucket& bucket(Handle h) { return entry(h)->bucket; }
  const LocalBucket& bucket(Handle h) const { return entry(h)->bucket; }
  std::string_view key(Handle h) const;
  // Bits free for the table's owner (the checker marks buckets waiting for
  // a lease request); 0 for a new bucket, moved with its bucket.
  uint32_t& flags(Handle h) { return entry(h)->flags; }

  size_t size() const { return size_; }
  size_t max_buckets() const { return max_buckets_; }
  bool full() const { return size_ >= max_buckets_; }
  // Bytes held: entry pages and index (as mapped, whole pages), out-of-line
  // keys.
  size_t MemoryBytes() const;

 private:
  struct Entry {
    uint32_t key_size;
    uint32_t flags;
    union {
      char inline_key[kInlineKeyBytes];
      char* heap_key;
    };
    LocalBucket bucket;

    explicit Entry(const LocalBucket& b) : key_size(0), flags(0), bucket(b) {}
    const char* key_data() const {
      return key_size <= kInlineKeyBytes ? inline_key : heap_key;
    }
  };
  static_assert(sizeof(Entry) == 96, "see the layout above");

  // Anonymous private memory mapped from the system, zero-filled, in whole
  // pages; unmapped on destruction. Move-only.
  class Mapping {
   public:
    Mapping() = default;
    // Throws std::bad_alloc when the system refuses.
    explicit Mapping(size_t bytes);
    ~Mapping();
    Mapping(Mapping&& other) noexcept;
    Mapping& operator=(Mapping&& other) noexcept;
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;

    void* data() const { return data_; }
    size_t bytes() const { return bytes_; }

   private:
    void Release();
    void* data_ = nullptr;
    size_t bytes_ = 0;
  };

  static uint64_t Hash(std::string_view key);
  uint32_t Tag(uint64_t hash) const {
    return static_cast<uint32_t>(hash >> 32) & tag_mask_;
  }
  Handle SlotHandle(uint32_t slot) const { return (slot & handle_mask_) - 1; }
  uint32_t* slots() const { return static_cast<uint32_t*>(slots_.data()); }
  Entry* entry(Handle h) const;
  Handle FindHashed(std::string_view key, uint64_t hash) const;
  // Index of the slot holding `h`, whose key hashes to `hash`.
  size_t SlotOf(Handle h, uint64_t hash) const;
  void InsertSlot(uint64_t hash, Handle h);
  void EraseSlot(size_t pos);
  void Rehash(size_t capacity);
  static void FreeKey(Entry* e);

  size_t max_buckets_;
  uint32_t handle_mask_;  // the slot bits holding handle + 1
  uint32_t tag_mask_;     // the other slot bits: the tag
  size_t size_ = 0;
  size_t heap_key_bytes_ = 0;
  Mapping slots_;        // capacity_ slots: 0 (empty) or tag | handle + 1
  size_t capacity_ = 0;  // a power of two, or 0
  size_t mask_ = 0;
  std::vector<Mapping> pages_;
};

}  // namespace sluice
