// BucketTable: the agent's buckets, bucket key (bytes from BuildBucketKey,
// common/bucket_key.h) -> LocalBucket, in an open-addressing hash table.
//
// Layout (chosen for the hot path and for memory per bucket):
//   - entries live densely in pages of kPageEntries, addressed by a Handle
//     (0..size()-1). Pages never move, so a LocalBucket& stays valid while
//     other buckets are created; only Remove() moves an entry.
//   - an index of 8-byte slots {32-bit hash, entry handle}, linear probing,
//     at most 3/4 full, deletion by backward shift (no tombstones); it
//     doubles when full and halves when under 1/8 full.
//   - a key of up to kInlineKeyBytes (24) bytes is stored inside its entry
//     (rule id + one wildcard value of up to 12 bytes, e.g. redis-benchmark's
//     12-digit __rand_int__); longer keys take one heap allocation.
// So a bucket costs sizeof(Entry) (LocalBucket + 32 bytes; 168 bytes with
// today's 136-byte LocalBucket) plus about 11 bytes of index, plus the key
// when it is longer than 24 bytes.
//
// Find() of a known key hashes it once and never allocates. FindOrCreate()
// refuses to create more than max_buckets buckets (the --max-buckets flag):
// it returns kNone, and the caller reports that the cap was reached.
//
// Invariants:
//   1. size() <= max_buckets().
//   2. Every handle in [0, size()) holds one entry whose key is in the index
//      exactly once; slots hold no other handles.
//   3. Handles are stable until Remove(h), which moves the last entry into
//      h (so the last handle becomes h) and frees the old last handle.
//
// Thread-compatible: owned by the agent's event loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
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
  // Bytes held: entry pages, index, out-of-line keys.
  size_t MemoryBytes() const;

 private:
  struct Entry {
    LocalBucket bucket;
    uint32_t key_size;
    uint32_t flags;
    union {
      char inline_key[kInlineKeyBytes];
      char* heap_key;
    };
    explicit Entry(const LocalBucket& b) : bucket(b), key_size(0), flags(0) {}
    const char* key_data() const {
      return key_size <= kInlineKeyBytes ? inline_key : heap_key;
    }
  };
  struct Slot {
    uint32_t hash;
    Handle handle;  // kNone: empty
  };

  static uint32_t Hash(std::string_view key);
  Entry* entry(Handle h) const;
  // Index of the slot holding `h`, whose key hashes to `hash`.
  size_t SlotOf(Handle h, uint32_t hash) const;
  void InsertSlot(uint32_t hash, Handle h);
  void EraseSlot(size_t pos);
  void Rehash(size_t capacity);
  static void FreeKey(Entry* e);

  size_t max_buckets_;
  size_t size_ = 0;
  size_t heap_key_bytes_ = 0;
  std::vector<Slot> slots_;  // capacity a power of two, or empty
  size_t mask_ = 0;
  std::vector<std::unique_ptr<unsigned char[]>> pages_;
};

}  // namespace sluice
