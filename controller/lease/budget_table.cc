#include "controller/lease/budget_table.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <new>
#include <utility>

namespace sluice {
namespace {

constexpr size_t kInitialCapacity = 64;

static_assert(sizeof(uintptr_t) == sizeof(uint64_t),
              "slots hold 64-bit addresses");

}  // namespace

BudgetTable::BudgetTable() : slots_(kInitialCapacity, 0) {}

BudgetTable::~BudgetTable() {
  for (uint64_t slot : slots_) {
    if (slot != 0) Destroy(EntryOf(slot));
  }
}

uint64_t BudgetTable::Hash(std::string_view key) {
  // std::hash (murmur-based in libstdc++); the low bits pick the slot, the
  // top 16 are the slot's tag.
  return std::hash<std::string_view>()(key);
}

// key_size right after the budget, the key right after key_size.
static_assert(sizeof(Budget) % alignof(uint32_t) == 0, "no padding");

size_t BudgetTable::EntryBytes(size_t key_size) {
  return std::max(sizeof(Entry), kKeyOffset + key_size);
}

void BudgetTable::Destroy(Entry* entry) {
  const size_t bytes = EntryBytes(entry->key_size);
  entry->~Entry();
  arena_.Free(entry, bytes);
}

uint64_t BudgetTable::SlotFor(Entry* entry, uint64_t hash) const {
  const auto address = reinterpret_cast<uintptr_t>(entry);
  if (!tagged_) return address;
  return address | (hash >> kTagShift << kTagShift);
}

void BudgetTable::Prefetch(uint64_t hash) const {
  __builtin_prefetch(&slots_[Home(hash)]);
}

void BudgetTable::PrefetchEntry(std::string_view /*key*/, uint64_t hash) const {
  const size_t mask = slots_.size() - 1;
  for (size_t i = Home(hash);; i = (i + 1) & mask) {
    const uint64_t slot = slots_[i];
    if (slot == 0) return;
    if (TagMatches(slot, hash)) {
      __builtin_prefetch(EntryOf(slot));
      return;
    }
    if (!tagged_) return;  // without tags, reading entries would block
  }
}

size_t BudgetTable::Probe(std::string_view key, uint64_t hash) const {
  const size_t mask = slots_.size() - 1;
  for (size_t i = Home(hash);; i = (i + 1) & mask) {
    const uint64_t slot = slots_[i];
    if (slot == 0) return i;
    if (TagMatches(slot, hash) && EntryOf(slot)->key() == key) return i;
  }
}

Budget* BudgetTable::Find(std::string_view key, uint64_t hash) {
  const uint64_t slot = slots_[Probe(key, hash)];
  return slot != 0 ? &EntryOf(slot)->budget : nullptr;
}

Budget* BudgetTable::Insert(std::string_view key, uint64_t hash,
                            Budget budget) {
  if ((size_ + 1) * 2 > slots_.size()) Grow();
  void* block = arena_.Allocate(EntryBytes(key.size()));
  Entry* entry =
      new (block) Entry{std::move(budget), static_cast<uint32_t>(key.size())};
  if (!key.empty()) std::memcpy(entry->key_bytes(), key.data(), key.size());
  if (tagged_ && (reinterpret_cast<uintptr_t>(entry) >> kTagShift) != 0) {
    DropTags();
  }
  slots_[Probe(key, hash)] = SlotFor(entry, hash);
  ++size_;
  return &entry->budget;
}

void BudgetTable::DropTags() {
  for (uint64_t& slot : slots_) {
    if (slot != 0) slot &= kAddressMask;
  }
  tagged_ = false;
}

void BudgetTable::Erase(std::string_view key, uint64_t hash) {
  const size_t position = Probe(key, hash);
  if (slots_[position] != 0) EraseAt(position);
}

Budget* BudgetTable::At(size_t position) {
  const uint64_t slot = slots_[position];
  return slot != 0 ? &EntryOf(slot)->budget : nullptr;
}

std::string_view BudgetTable::KeyAt(size_t position) const {
  return EntryOf(slots_[position])->key();
}

void BudgetTable::EraseAt(size_t position) {
  const size_t mask = slots_.size() - 1;
  Destroy(EntryOf(slots_[position]));
  slots_[position] = 0;
  --size_;
  // Backward shift: move up every later entry of the run that may live
  // here, so that no probe stops early at the hole.
  size_t hole = position;
  for (size_t i = (hole + 1) & mask; slots_[i] != 0; i = (i + 1) & mask) {
    const size_t home = HomeOf(slots_[i]);
    // The entry at i may move to the hole if its home is not in (hole, i].
    const bool movable =
        hole <= i ? (home <= hole || home > i) : (home <= hole && home > i);
    if (!movable) continue;
    slots_[hole] = slots_[i];
    slots_[i] = 0;
    hole = i;
  }
}

void BudgetTable::Grow() {
  std::vector<uint64_t> old = std::move(slots_);
  slots_ = std::vector<uint64_t>(old.size() * 2, 0);
  const size_t mask = slots_.size() - 1;
  for (uint64_t slot : old) {
    if (slot == 0) continue;
    size_t i = HomeOf(slot);
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = slot;
  }
}

}  // namespace sluice
