#include "controller/usage/report_batch.h"

#include <utility>

namespace sluice {

UsageBatch BatchFromReport(const UsageReport& report, int64_t received_ms,
                           const std::function<bool(int64_t)>& rule_exists,
                           SkippedParts* skipped) {
  UsageBatch batch;
  batch.agent_id = report.agent_id;
  // Both are drawn below 2^63 by agents; a larger one keeps its bits.
  batch.incarnation = static_cast<int64_t>(report.incarnation);
  batch.seq = static_cast<int64_t>(report.seq);
  batch.received_ms = received_ms;
  for (const UsageCounts& counts : report.counts) {
    if (!rule_exists(counts.rule_id)) {
      ++skipped->unknown_rule;
      continue;
    }
    batch.counts.push_back(counts);
  }
  for (const UsageSummary& summary : report.summaries) {
    if (!rule_exists(summary.rule_id)) {
      ++skipped->unknown_rule;
      continue;
    }
    UsageBatch::Top top;
    top.rule_id = summary.rule_id;
    top.minute_ms = summary.minute_ms;
    top.by = summary.by;
    if (!FromUsageSummary(summary, &top.summary)) {
      ++skipped->corrupt_summary;
      continue;
    }
    batch.tops.push_back(std::move(top));
  }
  return batch;
}

}  // namespace sluice
