#include "agent/check/bucket_table.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <new>
#include <utility>

namespace sluice {
namespace {

constexpr size_t kMinSlots = 16;

// Bits needed to hold every value in 1..n.
uint32_t BitWidth(size_t n) {
  uint32_t bits = 0;
  while (bits < 64 && (n >> bits) != 0) ++bits;
  return bits;
}

}  // namespace

// --- Mapping ---

BucketTable::Mapping::Mapping(size_t bytes) {
  if (bytes == 0) return;
  static const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  bytes = (bytes + page - 1) / page * page;
  void* data = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (data == MAP_FAILED) throw std::bad_alloc();
  data_ = data;
  bytes_ = bytes;
}

BucketTable::Mapping::~Mapping() { Release(); }

BucketTable::Mapping::Mapping(Mapping&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      bytes_(std::exchange(other.bytes_, 0)) {}

BucketTable::Mapping& BucketTable::Mapping::operator=(
    Mapping&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void BucketTable::Mapping::Release() {
  if (data_ != nullptr) ::munmap(data_, bytes_);
  data_ = nullptr;
  bytes_ = 0;
}

// --- BucketTable ---

static_assert(sizeof(LocalBucket) == 64, "see the layout in bucket_table.h");

BucketTable::BucketTable(size_t max_buckets)
    : max_buckets_(std::clamp<size_t>(max_buckets, 1, kMaxBucketsLimit)) {
  // Slots hold handle + 1, at most max_buckets_; the bits left are the tag.
  const uint32_t handle_bits = BitWidth(max_buckets_);
  handle_mask_ =
      handle_bits >= 32 ? UINT32_MAX : (uint32_t{1} << handle_bits) - 1;
  tag_mask_ = ~handle_mask_;
}

BucketTable::~BucketTable() { Clear(); }

uint64_t BucketTable::Hash(std::string_view key) {
  return std::hash<std::string_view>{}(key);
}

BucketTable::Entry* BucketTable::entry(Handle h) const {
  unsigned char* page =
      static_cast<unsigned char*>(pages_[h / kPageEntries].data());
  return std::launder(
      reinterpret_cast<Entry*>(page + (h % kPageEntries) * sizeof(Entry)));
}

std::string_view BucketTable::key(Handle h) const {
  const Entry* e = entry(h);
  return std::string_view(e->key_data(), e->key_size);
}

BucketTable::Handle BucketTable::Find(std::string_view key) const {
  if (size_ == 0) return kNone;
  return FindHashed(key, Hash(key));
}

BucketTable::Handle BucketTable::FindHashed(std::string_view key,
                                            uint64_t hash) const {
  const uint32_t tag = Tag(hash);
  const uint32_t* slots = this->slots();
  for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
    const uint32_t slot = slots[i];
    if (slot == 0) return kNone;
    if ((slot & tag_mask_) != tag) continue;
    const Handle h = SlotHandle(slot);
    const Entry* e = entry(h);
    if (e->key_size == key.size() &&
        std::memcmp(e->key_data(), key.data(), key.size()) == 0) {
      return h;
    }
  }
}

void BucketTable::Prefetch(uint64_t hash, int stage) const {
  if (capacity_ == 0) return;
  const uint32_t* slots = this->slots();
  if (stage == 0) {
    __builtin_prefetch(&slots[hash & mask_]);
    return;
  }
  const uint32_t tag = Tag(hash);
  for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
    const uint32_t slot = slots[i];
    if (slot == 0) return;
    if ((slot & tag_mask_) != tag) continue;
    const char* e = reinterpret_cast<const char*>(entry(SlotHandle(slot)));
    __builtin_prefetch(e);
    __builtin_prefetch(e + sizeof(Entry) - 1);
    return;
  }
}

BucketTable::Handle BucketTable::FindOrCreate(std::string_view key,
                                              const Rule& rule, int64_t now,
                                              const LeaseContext& ctx,
                                              bool* created) {
  return FindOrCreate(key, Hash(key), rule, now, ctx, created);
}

BucketTable::Handle BucketTable::FindOrCreate(std::string_view key,
                                              uint64_t hash, const Rule& rule,
                                              int64_t now,
                                              const LeaseContext& ctx,
                                              bool* created) {
  if (created != nullptr) *created = false;
  if (size_ > 0) {
    const Handle found = FindHashed(key, hash);
    if (found != kNone) return found;
  }
  if (full()) return kNone;

  if ((size_ + 1) * 4 > capacity_ * 3) {
    Rehash(std::max(kMinSlots, capacity_ * 2));
  }
  const Handle h = static_cast<Handle>(size_);
  if (h / kPageEntries >= pages_.size()) {
    pages_.emplace_back(kPageEntries * sizeof(Entry));
  }
  unsigned char* page =
      static_cast<unsigned char*>(pages_[h / kPageEntries].data());
  char* heap_key = nullptr;
  if (key.size() > kInlineKeyBytes) heap_key = new char[key.size()];
  Entry* e = new (page + (h % kPageEntries) * sizeof(Entry))
      Entry(LocalBucket(rule, now, ctx));
  e->key_size = static_cast<uint32_t>(key.size());
  if (heap_key == nullptr) {
    std::memcpy(e->inline_key, key.data(), key.size());
  } else {
    std::memcpy(heap_key, key.data(), key.size());
    e->heap_key = heap_key;
    heap_key_bytes_ += key.size();
  }
  ++size_;
  InsertSlot(hash, h);
  if (created != nullptr) *created = true;
  return h;
}

void BucketTable::FreeKey(Entry* e) {
  if (e->key_size > kInlineKeyBytes) delete[] e->heap_key;
  e->key_size = 0;
}

size_t BucketTable::SlotOf(Handle h, uint64_t hash) const {
  const uint32_t* slots = this->slots();
  for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
    if (slots[i] != 0 && SlotHandle(slots[i]) == h) return i;
  }
}

void BucketTable::InsertSlot(uint64_t hash, Handle h) {
  uint32_t* slots = this->slots();
  size_t i = hash & mask_;
  while (slots[i] != 0) i = (i + 1) & mask_;
  slots[i] = Tag(hash) | (h + 1);
}

// Backward-shift deletion (Knuth, Algorithm R): moves later members of the
// probe run into the hole when their home slot allows it. A member's home
// comes from its key's hash, recomputed (invariant 4 keeps only the tag).
void BucketTable::EraseSlot(size_t pos) {
  uint32_t* slots = this->slots();
  size_t hole = pos;
  size_t j = pos;
  for (;;) {
    j = (j + 1) & mask_;
    if (slots[j] == 0) break;
    const size_t home = Hash(key(SlotHandle(slots[j]))) & mask_;
    const bool stays =
        hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    slots[hole] = slots[j];
    hole = j;
  }
  slots[hole] = 0;
}

void BucketTable::Remove(Handle h) {
  Entry* victim = entry(h);
  EraseSlot(SlotOf(h, Hash(key(h))));
  if (victim->key_size > kInlineKeyBytes) heap_key_bytes_ -= victim->key_size;
  FreeKey(victim);

  const Handle last = static_cast<Handle>(size_ - 1);
  Entry* moved = entry(last);
  if (last != h) {
    uint32_t& slot = slots()[SlotOf(last, Hash(key(last)))];
    slot = (slot & tag_mask_) | (h + 1);
    // The key's bytes (inline or the heap pointer) move with the entry.
    victim->bucket = moved->bucket;
    victim->key_size = moved->key_size;
    victim->flags = moved->flags;
    std::memcpy(victim->inline_key, moved->inline_key, kInlineKeyBytes);
    moved->key_size = 0;  // no longer owns its key
  }
  moved->~Entry();
  --size_;

  // Keep spare pages (an eighth of those in use, at least two) so that
  // churn does not map and unmap: the sweep evicts in batches of thousands
  // what checks create again between two sweeps, and a page mapped anew
  // costs a system call each way and a fault per 4 KiB.
  const size_t pages_needed = (size_ + kPageEntries - 1) / kPageEntries;
  const size_t spare = std::max<size_t>(2, pages_needed / 8);
  while (pages_.size() > pages_needed + spare) pages_.pop_back();
  if (capacity_ > kMinSlots && size_ * 8 < capacity_) Rehash(capacity_ / 2);
}

void BucketTable::Clear() {
  for (size_t h = 0; h < size_; ++h) {
    Entry* e = entry(static_cast<Handle>(h));
    FreeKey(e);
    e->~Entry();
  }
  size_ = 0;
  heap_key_bytes_ = 0;
  pages_.clear();
  pages_.shrink_to_fit();
  slots_ = Mapping();
  capacity_ = 0;
  mask_ = 0;
}

// Rebuilds the index from the entries, in handle order (the entries are
// read sequentially; each key is hashed again).
void BucketTable::Rehash(size_t capacity) {
  // The old index is given up only once the new one is mapped, so a refusal
  // (std::bad_alloc) leaves the table as it was.
  Mapping fresh(capacity * sizeof(uint32_t));
  slots_ = std::move(fresh);
  capacity_ = capacity;
  mask_ = capacity - 1;
  for (size_t h = 0; h < size_; ++h) {
    const auto handle = static_cast<Handle>(h);
    InsertSlot(Hash(key(handle)), handle);
  }
}

size_t BucketTable::MemoryBytes() const {
  return pages_.size() * kPageEntries * sizeof(Entry) + slots_.bytes() +
         heap_key_bytes_;
}

}  // namespace sluice
