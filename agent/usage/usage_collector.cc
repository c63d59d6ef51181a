#include "agent/usage/usage_collector.h"

#include <limits>
#include <string>
#include <utility>

namespace sluice {

UsageCollector::UsageCollector(std::string agent_id, uint64_t incarnation,
                               size_t capacity)
    : agent_id_(std::move(agent_id)),
      incarnation_(incarnation),
      capacity_(capacity) {}

void UsageCollector::AddDecisions(const RuleIndex& rules,
                                  const std::vector<RuleDecisionCounts>& counts,
                                  int64_t now_ms) {
  const int64_t minute = MinuteStart(now_ms);
  const std::vector<Rule>& list = rules.rules();
  for (size_t i = 0; i < counts.size() && i < list.size(); ++i) {
    const RuleDecisionCounts& c = counts[i];
    if (c.allowed == 0 && c.refused == 0 && c.shadow_refused == 0) continue;
    RuleDecisionCounts& sum = counts_[{list[i].id, minute}];
    sum.allowed += c.allowed;
    sum.refused += c.refused;
    sum.shadow_refused += c.shadow_refused;
  }
}

void UsageCollector::AddWants(const std::vector<LeaseWant>& wants,
                              int64_t now_ms) {
  const int64_t minute = MinuteStart(now_ms);
  std::lock_guard<std::mutex> lock(summaries_mu_);
  for (const LeaseWant& want : wants) {
    if (want.admitted <= 0 && want.refused <= 0) continue;
    auto it = summaries_.find({want.rule_id, minute});
    if (it == summaries_.end()) {
      it = summaries_
               .emplace(
                   Key{want.rule_id, minute},
                   Summaries{HeavyHitters(capacity_), HeavyHitters(capacity_)})
               .first;
    }
    const std::string key = UsageClientKey(want.values);
    if (want.refused > 0) {
      it->second.by_refused.Add(key, want.refused, want.admitted);
    } else {
      it->second.by_refused.AddOther(key, want.admitted);
    }
    if (want.admitted > 0) {
      it->second.by_allowed.Add(key, want.admitted, want.refused);
    } else {
      it->second.by_allowed.AddOther(key, want.refused);
    }
  }
}

std::optional<UsageReport> UsageCollector::Report(int64_t now_ms,
                                                  const UsageReport& state) {
  return Make(now_ms, state, /*final=*/false);
}

std::optional<UsageReport> UsageCollector::FinalReport(
    int64_t now_ms, const UsageReport& state) {
  return Make(now_ms, state, /*final=*/true);
}

std::optional<UsageReport> UsageCollector::Make(int64_t now_ms,
                                                const UsageReport& state,
                                                bool final) {
  // Summaries of minutes before this one; all of them in the last report.
  const int64_t minute =
      final ? std::numeric_limits<int64_t>::max() : MinuteStart(now_ms);
  UsageReport report;
  for (const auto& [key, c] : counts_) {
    report.counts.push_back(UsageCounts{key.first, key.second, c.allowed,
                                        c.refused, c.shadow_refused});
  }
  counts_.clear();
  // The summaries, moved out under the mutex. Report() never waits for
  // it (if AddWants() holds it, they go with a later report);
  // FinalReport() does.
  std::map<Key, Summaries> taken;
  bool locked = true;
  if (final) {
    summaries_mu_.lock();
  } else {
    locked = summaries_mu_.try_lock();
  }
  if (locked) {
    for (auto it = summaries_.begin(); it != summaries_.end();) {
      if (it->first.second >= minute) {
        ++it;
      } else {
        taken.insert(summaries_.extract(it++));
      }
    }
    summaries_mu_.unlock();
  }
  for (const auto& [key, summaries] : taken) {
    if (!summaries.by_refused.empty()) {
      report.summaries.push_back(ToUsageSummary(
          key.first, key.second, UsageRanking::kRefused, summaries.by_refused));
    }
    if (!summaries.by_allowed.empty()) {
      report.summaries.push_back(ToUsageSummary(
          key.first, key.second, UsageRanking::kAllowed, summaries.by_allowed));
    }
  }
  if (report.counts.empty() && report.summaries.empty()) return std::nullopt;
  report.agent_id = agent_id_;
  report.incarnation = incarnation_;
  report.seq = next_seq_++;
  report.sent_ms = now_ms;
  report.version = state.version;
  report.rules_version = state.rules_version;
  report.buckets = state.buckets;
  report.leases = state.leases;
  return report;
}

}  // namespace sluice
