#include "agent/bucket_table.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <new>

namespace sluice {
namespace {

constexpr size_t kMinSlots = 16;

}  // namespace

BucketTable::BucketTable(size_t max_buckets)
    : max_buckets_(std::clamp<size_t>(max_buckets, 1, kMaxBucketsLimit)) {}

BucketTable::~BucketTable() { Clear(); }

uint32_t BucketTable::Hash(std::string_view key) {
  const uint64_t h = std::hash<std::string_view>{}(key);
  return static_cast<uint32_t>(h ^ (h >> 32));
}

BucketTable::Entry* BucketTable::entry(Handle h) const {
  unsigned char* page = pages_[h / kPageEntries].get();
  return std::launder(
      reinterpret_cast<Entry*>(page + (h % kPageEntries) * sizeof(Entry)));
}

std::string_view BucketTable::key(Handle h) const {
  const Entry* e = entry(h);
  return std::string_view(e->key_data(), e->key_size);
}

BucketTable::Handle BucketTable::Find(std::string_view key) const {
  if (size_ == 0) return kNone;
  const uint32_t hash = Hash(key);
  for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
    const Slot& slot = slots_[i];
    if (slot.handle == kNone) return kNone;
    if (slot.hash != hash) continue;
    const Entry* e = entry(slot.handle);
    if (e->key_size == key.size() &&
        std::memcmp(e->key_data(), key.data(), key.size()) == 0) {
      return slot.handle;
    }
  }
}

BucketTable::Handle BucketTable::FindOrCreate(std::string_view key,
                                              const Rule& rule, int64_t now,
                                              const LeaseContext& ctx,
                                              bool* created) {
  if (created != nullptr) *created = false;
  const Handle found = Find(key);
  if (found != kNone) return found;
  if (full()) return kNone;

  if ((size_ + 1) * 4 > slots_.size() * 3) {
    Rehash(std::max(kMinSlots, slots_.size() * 2));
  }
  const Handle h = static_cast<Handle>(size_);
  if (h / kPageEntries >= pages_.size()) {
    pages_.push_back(
        std::make_unique<unsigned char[]>(kPageEntries * sizeof(Entry)));
  }
  unsigned char* page = pages_[h / kPageEntries].get();
  Entry* e = new (page + (h % kPageEntries) * sizeof(Entry))
      Entry(LocalBucket(rule, now, ctx));
  e->key_size = static_cast<uint32_t>(key.size());
  if (key.size() <= kInlineKeyBytes) {
    std::memcpy(e->inline_key, key.data(), key.size());
  } else {
    e->heap_key = new char[key.size()];
    std::memcpy(e->heap_key, key.data(), key.size());
    heap_key_bytes_ += key.size();
  }
  ++size_;
  InsertSlot(Hash(key), h);
  if (created != nullptr) *created = true;
  return h;
}

void BucketTable::FreeKey(Entry* e) {
  if (e->key_size > kInlineKeyBytes) delete[] e->heap_key;
  e->key_size = 0;
}

size_t BucketTable::SlotOf(Handle h, uint32_t hash) const {
  for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
    if (slots_[i].handle == h) return i;
  }
}

void BucketTable::InsertSlot(uint32_t hash, Handle h) {
  size_t i = hash & mask_;
  while (slots_[i].handle != kNone) i = (i + 1) & mask_;
  slots_[i] = Slot{hash, h};
}

// Backward-shift deletion (Knuth, Algorithm R): moves later members of the
// probe run into the hole when their home slot allows it.
void BucketTable::EraseSlot(size_t pos) {
  size_t hole = pos;
  size_t j = pos;
  for (;;) {
    j = (j + 1) & mask_;
    if (slots_[j].handle == kNone) break;
    const size_t home = slots_[j].hash & mask_;
    const bool stays =
        hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    slots_[hole] = slots_[j];
    hole = j;
  }
  slots_[hole] = Slot{0, kNone};
}

void BucketTable::Remove(Handle h) {
  Entry* victim = entry(h);
  const uint32_t hash = Hash(key(h));
  EraseSlot(SlotOf(h, hash));
  if (victim->key_size > kInlineKeyBytes) heap_key_bytes_ -= victim->key_size;
  FreeKey(victim);

  const Handle last = static_cast<Handle>(size_ - 1);
  Entry* moved = entry(last);
  if (last != h) {
    slots_[SlotOf(last, Hash(key(last)))].handle = h;
    // The key's bytes (inline or the heap pointer) move with the entry.
    victim->bucket = moved->bucket;
    victim->key_size = moved->key_size;
    victim->flags = moved->flags;
    std::memcpy(victim->inline_key, moved->inline_key, kInlineKeyBytes);
    moved->key_size = 0;  // no longer owns its key
  }
  moved->~Entry();
  --size_;

  // Keep one spare page so that churn at a page boundary does not allocate.
  const size_t pages_needed = (size_ + kPageEntries - 1) / kPageEntries;
  while (pages_.size() > pages_needed + 1) pages_.pop_back();
  if (slots_.size() > kMinSlots && size_ * 8 < slots_.size()) {
    Rehash(slots_.size() / 2);
  }
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
  slots_.clear();
  slots_.shrink_to_fit();
  mask_ = 0;
}

void BucketTable::Rehash(size_t capacity) {
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.assign(capacity, Slot{0, kNone});
  mask_ = capacity - 1;
  for (const Slot& slot : old) {
    if (slot.handle != kNone) InsertSlot(slot.hash, slot.handle);
  }
}

size_t BucketTable::MemoryBytes() const {
  return pages_.size() * kPageEntries * sizeof(Entry) +
         slots_.capacity() * sizeof(Slot) + heap_key_bytes_;
}

}  // namespace sluice
