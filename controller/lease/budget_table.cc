#include "controller/lease/budget_table.h"

#include <functional>
#include <utility>

namespace sluice {
namespace {

constexpr size_t kInitialCapacity = 64;

}  // namespace

BudgetTable::BudgetTable() : slots_(kInitialCapacity) {}

uint64_t BudgetTable::Hash(std::string_view key) {
  // std::hash (murmur-based in libstdc++); the low bits pick the slot.
  return std::hash<std::string_view>()(key);
}

void BudgetTable::Prefetch(uint64_t hash) const {
  __builtin_prefetch(&slots_[Home(hash)]);
}

void BudgetTable::PrefetchEntry(std::string_view key, uint64_t hash) const {
  const Slot& slot = slots_[Probe(key, hash)];
  if (slot.entry) __builtin_prefetch(slot.entry.get());
}

size_t BudgetTable::Probe(std::string_view key, uint64_t hash) const {
  const size_t mask = slots_.size() - 1;
  for (size_t i = Home(hash);; i = (i + 1) & mask) {
    const Slot& slot = slots_[i];
    if (!slot.entry) return i;
    if (slot.hash == hash && slot.entry->key == key) return i;
  }
}

Budget* BudgetTable::Find(std::string_view key, uint64_t hash) {
  Slot& slot = slots_[Probe(key, hash)];
  return slot.entry ? &slot.entry->budget : nullptr;
}

Budget* BudgetTable::Insert(std::string_view key, uint64_t hash,
                            Budget budget) {
  if ((size_ + 1) * 2 > slots_.size()) Grow();
  Slot& slot = slots_[Probe(key, hash)];
  slot.hash = hash;
  slot.entry =
      std::make_unique<Entry>(Entry{std::string(key), std::move(budget)});
  ++size_;
  return &slot.entry->budget;
}

void BudgetTable::Erase(std::string_view key, uint64_t hash) {
  const size_t position = Probe(key, hash);
  if (slots_[position].entry) EraseAt(position);
}

Budget* BudgetTable::At(size_t position) {
  Slot& slot = slots_[position];
  return slot.entry ? &slot.entry->budget : nullptr;
}

const std::string& BudgetTable::KeyAt(size_t position) const {
  return slots_[position].entry->key;
}

void BudgetTable::EraseAt(size_t position) {
  const size_t mask = slots_.size() - 1;
  slots_[position].entry.reset();
  --size_;
  // Backward shift: move up every later entry of the run that may live
  // here, so that no probe stops early at the hole.
  size_t hole = position;
  for (size_t i = (hole + 1) & mask; slots_[i].entry; i = (i + 1) & mask) {
    const size_t home = Home(slots_[i].hash);
    // The entry at i may move to the hole if its home is not in (hole, i].
    const bool movable =
        hole <= i ? (home <= hole || home > i) : (home <= hole && home > i);
    if (!movable) continue;
    slots_[hole] = std::move(slots_[i]);
    hole = i;
  }
}

void BudgetTable::Grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_ = std::vector<Slot>(old.size() * 2);
  const size_t mask = slots_.size() - 1;
  for (Slot& slot : old) {
    if (!slot.entry) continue;
    size_t i = Home(slot.hash);
    while (slots_[i].entry) i = (i + 1) & mask;
    slots_[i] = std::move(slot);
  }
}

}  // namespace sluice
