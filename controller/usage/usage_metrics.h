// UsageMetrics: the controller's usage-analytics metrics (docs/analytics.md).
//
//   sluice_rule_decisions_total{rule, result}   counter, fleet-wide, from
//       the agents' reports as they are stored (result: allowed, refused,
//       shadow_refused; rule: the rule id). No per-client label.
//   sluice_controller_usage_reports_total{outcome}      counter
//       reports stored (counted) or recognised as sent before (duplicate)
//   sluice_controller_usage_reports_invalid_total{reason}  counter
//       parts of reports skipped: unknown_rule (counts or a summary of a
//       rule that does not exist), corrupt_summary (refused by
//       HeavyHitters::FromParts)
//   sluice_controller_usage_reports_dropped_total       counter
//       reports refused because the queue to PostgreSQL was full (left
//       unacknowledged: the agent sends them again)
//   sluice_controller_usage_report_lag_seconds          gauge
//       for the last report stored: from the agent making it to its commit
//   sluice_controller_usage_queue                       gauge
//       reports waiting to be stored
//
// Thread-safe. A null registry makes every call a no-op.
#pragma once

#include <cstdint>
#include <string>

namespace prometheus {
class Counter;
class Gauge;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace sluice {

class UsageMetrics {
 public:
  explicit UsageMetrics(prometheus::Registry* registry);

  void AddDecisions(int64_t rule_id, int64_t allowed, int64_t refused,
                    int64_t shadow_refused);
  void CountReport(bool duplicate);
  void CountInvalid(const char* reason, int64_t n = 1);
  void CountDropped();
  void SetLag(double seconds);
  void SetQueue(int64_t reports);

 private:
  prometheus::Family<prometheus::Counter>* decisions_ = nullptr;
  prometheus::Family<prometheus::Counter>* reports_ = nullptr;
  prometheus::Family<prometheus::Counter>* invalid_ = nullptr;
  prometheus::Counter* dropped_ = nullptr;
  prometheus::Gauge* lag_ = nullptr;
  prometheus::Gauge* queue_ = nullptr;
};

}  // namespace sluice
