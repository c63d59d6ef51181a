#include "common/rule_index.h"

#include <algorithm>
#include <functional>
#include <map>

#include "common/rule_json.h"

namespace sluice {
namespace {

// Hash of the values at `positions` of `values`.
uint64_t HashValues(const std::string_view* const* values,
                    const std::vector<uint8_t>& positions) {
  uint64_t h = 0x243f6a8885a308d3ULL;
  for (uint8_t pos : positions) {
    uint64_t v = std::hash<std::string_view>()(*values[pos]);
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  }
  return h;
}

// Domains looked up by a linear scan up to this many (cheaper than a
// binary search of string comparisons), by binary search beyond.
constexpr size_t kLinearDomains = 8;

// Match keys sorted and unique, and few enough for Match's fixed buffer.
bool WellFormedMatch(const Rule& rule) {
  if (rule.match.size() > kMaxMatchKeys) return false;
  for (size_t i = 1; i < rule.match.size(); ++i) {
    if (!(rule.match[i - 1].first < rule.match[i].first)) return false;
  }
  return true;
}

}  // namespace

std::shared_ptr<const RuleIndex> RuleIndex::Build(std::vector<Rule> rules,
                                                  int64_t version) {
  std::shared_ptr<RuleIndex> index(new RuleIndex());
  index->version_ = version;

  std::stable_sort(rules.begin(), rules.end(),
                   [](const Rule& a, const Rule& b) { return a.id < b.id; });
  index->rules_.reserve(rules.size());
  for (Rule& rule : rules) {
    if (!rule.enabled || !WellFormedMatch(rule)) continue;
    if (!index->rules_.empty() && index->rules_.back().id == rule.id) continue;
    index->rules_.push_back(std::move(rule));
  }
  // rules_ no longer changes: pointers into it stay valid.

  // domain -> key list -> exact mask -> rules (in id order).
  using Patterns = std::map<uint32_t, std::vector<const Rule*>>;
  using Groups = std::map<std::vector<std::string>, Patterns>;
  std::map<std::string, Groups> domains;
  for (const Rule& rule : index->rules_) {
    index->by_id_.emplace(rule.id, &rule);
    std::vector<std::string> keys;
    uint32_t mask = 0;
    for (size_t i = 0; i < rule.match.size(); ++i) {
      keys.push_back(rule.match[i].first);
      if (rule.match[i].second != kWildcard) mask |= 1u << i;
    }
    domains[rule.domain][std::move(keys)][mask].push_back(&rule);
  }

  std::string_view storage[kMaxMatchKeys];
  const std::string_view* values[kMaxMatchKeys];
  for (size_t i = 0; i < kMaxMatchKeys; ++i) values[i] = &storage[i];
  for (auto& [name, groups] : domains) {
    Domain domain;
    domain.name = name;
    for (auto& [keys, patterns] : groups) {
      Group group;
      group.keys = keys;
      for (auto& [mask, members] : patterns) {
        Pattern pattern;
        for (size_t i = 0; i < keys.size(); ++i) {
          if (mask & (1u << i)) {
            pattern.exact_positions.push_back(static_cast<uint8_t>(i));
          }
        }
        pattern.exact_count = static_cast<int>(pattern.exact_positions.size());
        for (const Rule* rule : members) {
          for (size_t i = 0; i < rule->match.size(); ++i) {
            storage[i] = rule->match[i].second;
          }
          pattern.entries.emplace_back(
              HashValues(values, pattern.exact_positions), rule);
        }
        std::stable_sort(pattern.entries.begin(), pattern.entries.end(),
                         [](const auto& a, const auto& b) {
                           return a.first < b.first;
                         });  // members came in id order: ties stay so
        group.patterns.push_back(std::move(pattern));
      }
      std::stable_sort(group.patterns.begin(), group.patterns.end(),
                       [](const Pattern& a, const Pattern& b) {
                         return a.exact_count > b.exact_count;
                       });
      domain.groups.push_back(std::move(group));
    }
    index->domains_.push_back(std::move(domain));
  }
  return index;
}

std::shared_ptr<const RuleIndex> RuleIndex::Empty() {
  static const std::shared_ptr<const RuleIndex> empty(new RuleIndex());
  return empty;
}

const Rule* RuleIndex::Find(int64_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

void RuleIndex::Match(std::string_view domain, const Descriptor& d,
                      std::vector<const Rule*>* out) const {
  // On every check's path: no allocation, no initialised scratch.
  out->clear();
  const Domain* dom = nullptr;
  if (domains_.size() <= kLinearDomains) {
    for (const Domain& candidate : domains_) {
      if (candidate.name == domain) {
        dom = &candidate;
        break;
      }
    }
  } else {
    auto it = std::lower_bound(
        domains_.begin(), domains_.end(), domain,
        [](const Domain& a, std::string_view name) { return a.name < name; });
    if (it != domains_.end() && it->name == domain) dom = &*it;
  }
  if (dom == nullptr) return;

  const std::string_view* values[kMaxMatchKeys];  // set before each use
  for (const Group& group : dom->groups) {
    bool present = true;
    for (size_t i = 0; i < group.keys.size(); ++i) {
      values[i] = FindDescriptorValue(d, group.keys[i]);
      if (values[i] == nullptr) {
        present = false;
        break;
      }
    }
    if (!present) continue;

    // The most exact values win; among equally exact rules, the lowest id.
    const Rule* best = nullptr;
    int best_exact = -1;
    for (const Pattern& pattern : group.patterns) {
      if (pattern.exact_count < best_exact) break;
      if (pattern.exact_count == 0) {
        // Wildcards only: every rule of the pattern applies, and the first
        // entry has the lowest id (one hash, ties in id order).
        const Rule* rule = pattern.entries.front().second;
        if (best == nullptr || rule->id < best->id) {
          best = rule;
          best_exact = 0;
        }
        continue;
      }
      uint64_t h = HashValues(values, pattern.exact_positions);
      auto it = std::lower_bound(
          pattern.entries.begin(), pattern.entries.end(), h,
          [](const auto& entry, uint64_t hash) { return entry.first < hash; });
      for (; it != pattern.entries.end() && it->first == h; ++it) {
        const Rule* rule = it->second;
        bool equal = true;
        for (uint8_t pos : pattern.exact_positions) {
          if (rule->match[pos].second != *values[pos]) {
            equal = false;
            break;
          }
        }
        if (equal) {
          if (best == nullptr || rule->id < best->id) {
            best = rule;
            best_exact = pattern.exact_count;
          }
          break;  // later entries with this hash have higher ids
        }
      }
    }
    if (best != nullptr) out->push_back(best);
  }
}

}  // namespace sluice
