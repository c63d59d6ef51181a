// HeavyHitters: the heaviest keys of a weighted stream in bounded memory,
// and the merge of two such summaries. Used for "the heaviest clients of a
// rule": agents summarise what each client (a bucket's wildcard values) was
// admitted and refused, the controller merges the agents' summaries.
//
// The algorithm is Space-Saving (Metwally, Agrawal, El Abbadi, "Efficient
// computation of frequent and top-k elements in data streams", 2005) with
// weights: at most `capacity` keys are monitored; a key that is not, when
// the summary is full, takes the place of the monitored key with the
// smallest count and inherits that count as its error.
//
// Guarantees, for a summary of total weight N and capacity k:
//   1. For a listed key, `count` is an upper bound of its true weight and
//      `count - error` a lower bound.
//   2. A key that is not listed weighs at most floor() (0 while the summary
//      has never been full: then every count is exact).
//   3. floor() <= N / k, so every error is at most N / k.
// Merge() keeps 1 and 2. A key listed in one summary and not the other is
// counted with the other's floor as its upper bound and 0 as its lower
// bound, so a merged error is at most the sum of the two floors; when the
// union of the keys fits the capacity, nothing is dropped and the merged
// floor is the sum of the two floors (so at most (N1 + N2) / k). When it
// does not fit, the lightest keys are dropped and the floor becomes the
// heaviest upper bound dropped, if larger. Callers that need the bound of
// 3 merge into a summary whose capacity is the sum of the inputs'.
//
// Each entry also carries `other`: a second weight (for a ranking by
// refused tokens, the admitted ones) accumulated while the key was
// monitored, a lower bound of that key's true second weight.
//
// Thread-compatible; pure (no I/O, no clock).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sluice {

struct HeavyHitter {
  std::string key;
  int64_t count = 0;  // upper bound of the key's weight
  int64_t error = 0;  // count - error is a lower bound
  int64_t other = 0;  // the second weight seen while monitored (lower bound)
};

class HeavyHitters {
 public:
  // `capacity` >= 1: the most keys monitored at once.
  explicit HeavyHitters(size_t capacity);

  // Adds `weight` (> 0; others are ignored) to `key`, and `other` (>= 0) to
  // its second weight. Amortised O(log capacity).
  void Add(std::string_view key, int64_t weight, int64_t other = 0);

  // Adds the second weight only (a key that is not monitored is not
  // started for it). O(1).
  void AddOther(std::string_view key, int64_t other);

  // Folds `other` into this summary (any capacity; the result keeps this
  // summary's capacity).
  void Merge(const HeavyHitters& other);

  // The heaviest `n` entries, by count then key, heaviest first.
  std::vector<HeavyHitter> Top(size_t n) const;

  // Upper bound of the weight of any key not listed.
  int64_t floor() const { return floor_; }
  // Total weight added (merged summaries: the sum of their totals).
  int64_t total() const { return total_; }
  size_t size() const { return entries_.size(); }
  size_t capacity() const { return capacity_; }
  bool empty() const { return entries_.empty() && total_ == 0; }

  // For transport: rebuilds a summary from its parts (entries in any
  // order). False, leaving *out untouched, when the parts are not a valid
  // summary (more entries than capacity, a negative or inconsistent count,
  // a duplicate key, a count above the total).
  static bool FromParts(size_t capacity, std::vector<HeavyHitter> entries,
                        int64_t floor, int64_t total, HeavyHitters* out);
  // Every entry, in no particular order.
  const std::vector<HeavyHitter>& entries() const { return entries_; }

 private:
  // Min-heap of entry indices by count; pos_[i] is entry i's heap slot.
  void SiftUp(size_t slot);
  void SiftDown(size_t slot);
  void Swap(size_t a, size_t b);
  void Rebuild();  // index and heap from entries_

  size_t capacity_;
  int64_t floor_ = 0;
  int64_t total_ = 0;
  std::vector<HeavyHitter> entries_;
  std::vector<size_t> heap_;  // entry indices, min count first
  std::vector<size_t> pos_;   // entry index -> heap slot
  std::unordered_map<std::string, size_t> index_;  // key -> entry index
};

}  // namespace sluice
