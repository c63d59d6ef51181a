#include "common/heavy_hitters.h"

#include <algorithm>
#include <utility>

namespace sluice {

HeavyHitters::HeavyHitters(size_t capacity)
    : capacity_(std::max<size_t>(1, capacity)) {}

void HeavyHitters::Swap(size_t a, size_t b) {
  std::swap(heap_[a], heap_[b]);
  pos_[heap_[a]] = a;
  pos_[heap_[b]] = b;
}

void HeavyHitters::SiftUp(size_t slot) {
  while (slot > 0) {
    const size_t parent = (slot - 1) / 2;
    if (entries_[heap_[parent]].count <= entries_[heap_[slot]].count) return;
    Swap(slot, parent);
    slot = parent;
  }
}

void HeavyHitters::SiftDown(size_t slot) {
  for (;;) {
    const size_t left = 2 * slot + 1;
    const size_t right = left + 1;
    size_t smallest = slot;
    if (left < heap_.size() &&
        entries_[heap_[left]].count < entries_[heap_[smallest]].count) {
      smallest = left;
    }
    if (right < heap_.size() &&
        entries_[heap_[right]].count < entries_[heap_[smallest]].count) {
      smallest = right;
    }
    if (smallest == slot) return;
    Swap(slot, smallest);
    slot = smallest;
  }
}

void HeavyHitters::Rebuild() {
  index_.clear();
  heap_.resize(entries_.size());
  pos_.resize(entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i) {
    index_.emplace(entries_[i].key, i);
    heap_[i] = i;
    pos_[i] = i;
  }
  for (size_t slot = heap_.size() / 2; slot-- > 0;) SiftDown(slot);
}

void HeavyHitters::Add(std::string_view key, int64_t weight, int64_t other) {
  if (weight <= 0) {
    AddOther(key, other);
    return;
  }
  other = std::max<int64_t>(0, other);
  total_ += weight;
  auto found = index_.find(std::string(key));
  if (found != index_.end()) {
    HeavyHitter& entry = entries_[found->second];
    entry.count += weight;
    entry.other += other;
    SiftDown(pos_[found->second]);  // counts only grow
    return;
  }
  if (entries_.size() < capacity_) {
    entries_.push_back(HeavyHitter{std::string(key), weight, 0, other});
    const size_t i = entries_.size() - 1;
    index_.emplace(entries_[i].key, i);
    heap_.push_back(i);
    pos_.push_back(heap_.size() - 1);
    SiftUp(heap_.size() - 1);
    return;
  }
  // Full: the new key replaces the lightest and inherits its count as its
  // error (it may have been that heavy before it was monitored).
  const size_t i = heap_[0];
  HeavyHitter& entry = entries_[i];
  index_.erase(entry.key);
  floor_ = std::max(floor_, entry.count);
  entry.key = std::string(key);
  entry.error = entry.count;
  entry.count += weight;
  entry.other = other;
  index_.emplace(entry.key, i);
  SiftDown(0);
}

void HeavyHitters::AddOther(std::string_view key, int64_t other) {
  if (other <= 0) return;
  auto found = index_.find(std::string(key));
  if (found != index_.end()) entries_[found->second].other += other;
}

void HeavyHitters::Merge(const HeavyHitters& other) {
  // Upper and lower bounds of every key of the union.
  std::unordered_map<std::string, HeavyHitter> merged;
  merged.reserve(entries_.size() + other.entries_.size());
  for (const HeavyHitter& mine : entries_) {
    HeavyHitter& entry = merged[mine.key];
    entry.key = mine.key;
    entry.count = mine.count + other.floor_;
    entry.error = mine.error + other.floor_;
    entry.other = mine.other;
  }
  for (const HeavyHitter& theirs : other.entries_) {
    auto found = merged.find(theirs.key);
    if (found == merged.end()) {
      merged.emplace(theirs.key,
                     HeavyHitter{theirs.key, theirs.count + floor_,
                                 theirs.error + floor_, theirs.other});
      continue;
    }
    // Listed in both: replace the floor assumed above with the real count.
    HeavyHitter& entry = found->second;
    entry.count += theirs.count - other.floor_;
    entry.error += theirs.error - other.floor_;
    entry.other += theirs.other;
  }
  std::vector<HeavyHitter> all;
  all.reserve(merged.size());
  for (auto& [key, entry] : merged) all.push_back(std::move(entry));
  std::sort(all.begin(), all.end(),
            [](const HeavyHitter& a, const HeavyHitter& b) {
              return a.count != b.count ? a.count > b.count : a.key < b.key;
            });
  int64_t floor = floor_ + other.floor_;
  if (all.size() > capacity_) {
    floor = std::max(floor, all[capacity_].count);
    all.resize(capacity_);
  }
  floor_ = floor;
  total_ += other.total_;
  entries_ = std::move(all);
  Rebuild();
}

std::vector<HeavyHitter> HeavyHitters::Top(size_t n) const {
  std::vector<HeavyHitter> top = entries_;
  auto heavier = [](const HeavyHitter& a, const HeavyHitter& b) {
    return a.count != b.count ? a.count > b.count : a.key < b.key;
  };
  if (n < top.size()) {
    std::partial_sort(top.begin(), top.begin() + n, top.end(), heavier);
    top.resize(n);
  } else {
    std::sort(top.begin(), top.end(), heavier);
  }
  return top;
}

bool HeavyHitters::FromParts(size_t capacity, std::vector<HeavyHitter> entries,
                             int64_t floor, int64_t total, HeavyHitters* out) {
  if (capacity == 0 || entries.size() > capacity || floor < 0 || total < 0) {
    return false;
  }
  HeavyHitters parsed(capacity);
  for (const HeavyHitter& entry : entries) {
    if (entry.count <= 0 || entry.error < 0 || entry.error > entry.count ||
        entry.other < 0 || entry.count - entry.error > total) {
      return false;
    }
  }
  parsed.entries_ = std::move(entries);
  parsed.floor_ = floor;
  parsed.total_ = total;
  parsed.Rebuild();
  if (parsed.index_.size() != parsed.entries_.size()) return false;  // dup
  *out = std::move(parsed);
  return true;
}

}  // namespace sluice
