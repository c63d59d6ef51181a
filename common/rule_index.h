// RuleIndex: an immutable, compiled view of the enabled rules, built once per
// rule-set version and shared by readers through shared_ptr<const RuleIndex>.
// A rule change builds a new index and swaps the pointer, so a check sees the
// old or the new rule set, never a mix.
//
// Matching (docs/design.md, "Which rules apply"): a rule applies to a check
// when every key of its match is in the descriptor with an equal value, or any
// value where the rule says "*". Rules are grouped by their set of match keys;
// in each group only the most specific applicable rule applies (most exact
// values; a tie goes to the lowest id). One rule applies per group; the rules
// of all groups apply together (AND).
//
// Thread-safety: immutable after Build(); all const methods may be called
// concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/descriptor.h"
#include "common/rule.h"

namespace sluice {

class RuleIndex {
 public:
  // Compiles `rules` as rule-set `version`. Left out: disabled rules, and
  // rules that would fail ValidateRule's match checks (keys not sorted and
  // unique, more than kMaxMatchKeys keys). A repeated id keeps the first.
  static std::shared_ptr<const RuleIndex> Build(std::vector<Rule> rules,
                                                int64_t version);
  // An empty index at version 0.
  static std::shared_ptr<const RuleIndex> Empty();

  int64_t version() const { return version_; }
  // Enabled rules in the index.
  size_t size() const { return rules_.size(); }
  const std::vector<Rule>& rules() const { return rules_; }
  // The rule with this id, or nullptr.
  const Rule* Find(int64_t id) const;

  // Clears *out, then appends the rules that apply to a check in `domain`
  // with descriptor `d`, one per match-key group, in a fixed order (groups
  // by their sorted key lists). All match keys must be present in `d` (a
  // repeated descriptor key: the first value counts). Allocation-free once
  // *out has grown to its working size.
  void Match(std::string_view domain, const Descriptor& d,
             std::vector<const Rule*>* out) const;

 private:
  // Candidates of one group that have exact values at the same positions
  // (the same "pattern"), found by a hash of those values.
  struct Pattern {
    int exact_count = 0;
    std::vector<uint8_t> exact_positions;  // indexes into Group::keys
    // (hash of the exact values, rule), sorted by hash, then id.
    std::vector<std::pair<uint64_t, const Rule*>> entries;
  };
  // Rules of one domain sharing one set of match keys.
  struct Group {
    std::vector<std::string> keys;  // sorted
    std::vector<Pattern> patterns;  // by exact_count, descending
  };
  struct Domain {
    std::string name;
    std::vector<Group> groups;  // by keys
  };

  RuleIndex() = default;

  int64_t version_ = 0;
  std::vector<Rule> rules_;  // storage; pointers into it are stable
  std::unordered_map<int64_t, const Rule*> by_id_;
  std::vector<Domain> domains_;  // sorted by name
};

}  // namespace sluice
