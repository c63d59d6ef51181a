#include "controller/usage/usage_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace sluice {

UsageMetrics::UsageMetrics(prometheus::Registry* registry) {
  if (registry == nullptr) return;
  decisions_ = &prometheus::BuildCounter()
                    .Name("sluice_rule_decisions_total")
                    .Help(
                        "Decisions per rule, fleet-wide, from the agents' "
                        "usage reports")
                    .Register(*registry);
  reports_ = &prometheus::BuildCounter()
                  .Name("sluice_controller_usage_reports_total")
                  .Help(
                      "Usage reports stored (counted) or sent again "
                      "(duplicate)")
                  .Register(*registry);
  invalid_ = &prometheus::BuildCounter()
                  .Name("sluice_controller_usage_reports_invalid_total")
                  .Help(
                      "Parts of usage reports skipped: an unknown rule or "
                      "a corrupt summary")
                  .Register(*registry);
  dropped_ = &prometheus::BuildCounter()
                  .Name("sluice_controller_usage_reports_dropped_total")
                  .Help(
                      "Usage reports refused because the queue was full "
                      "(the agents send them again)")
                  .Register(*registry)
                  .Add({});
  lag_ = &prometheus::BuildGauge()
              .Name("sluice_controller_usage_report_lag_seconds")
              .Help(
                  "For the last usage report stored: seconds from the "
                  "agent making it to its commit")
              .Register(*registry)
              .Add({});
  queue_ = &prometheus::BuildGauge()
                .Name("sluice_controller_usage_queue")
                .Help("Usage reports waiting to be stored")
                .Register(*registry)
                .Add({});
}

void UsageMetrics::AddDecisions(int64_t rule_id, int64_t allowed,
                                int64_t refused, int64_t shadow_refused) {
  if (decisions_ == nullptr) return;
  const std::string rule = std::to_string(rule_id);
  const std::pair<const char*, int64_t> results[] = {
      {"allowed", allowed},
      {"refused", refused},
      {"shadow_refused", shadow_refused}};
  for (const auto& [result, n] : results) {
    // Every series exists from the rule's first report, zeros included.
    prometheus::Counter& counter =
        decisions_->Add({{"rule", rule}, {"result", result}});
    if (n > 0) counter.Increment(static_cast<double>(n));
  }
}

void UsageMetrics::CountReport(bool duplicate) {
  if (reports_ == nullptr) return;
  reports_->Add({{"outcome", duplicate ? "duplicate" : "counted"}}).Increment();
}

void UsageMetrics::CountInvalid(const char* reason, int64_t n) {
  if (invalid_ == nullptr || n <= 0) return;
  invalid_->Add({{"reason", reason}}).Increment(static_cast<double>(n));
}

void UsageMetrics::CountDropped() {
  if (dropped_ != nullptr) dropped_->Increment();
}

void UsageMetrics::SetLag(double seconds) {
  if (lag_ != nullptr) lag_->Set(seconds);
}

void UsageMetrics::SetQueue(int64_t reports) {
  if (queue_ != nullptr) queue_->Set(static_cast<double>(reports));
}

}  // namespace sluice
