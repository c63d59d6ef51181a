#include "agent/metrics/agent_metrics.h"

#include <exception>

#include "platform/endpoint.h"

namespace sluice {

AgentMetrics::AgentMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      decisions_(prometheus::BuildCounter()
                     .Name("sluice_agent_decisions_total")
                     .Help("Checks decided by this agent, per rule and "
                           "result (allowed, refused, shadow_refused)")
                     .Register(*registry_)),
      lease_requests_(prometheus::BuildCounter()
                          .Name("sluice_agent_lease_requests_total")
                          .Help("Bucket lease requests sent to the "
                                "controller")
                          .Register(*registry_)
                          .Add({})),
      lease_reports_(prometheus::BuildCounter()
                         .Name("sluice_agent_lease_reports_total")
                         .Help("Bucket reports sent to the controller "
                               "without asking for tokens (buckets decided "
                               "locally)")
                         .Register(*registry_)
                         .Add({})),
      lease_reports_unsent_(
          prometheus::BuildCounter()
              .Name("sluice_agent_lease_reports_unsent_total")
              .Help("Reports of quiet buckets not sent: this agent alone "
                    "spends the bucket's budget, and the bucket has refilled "
                    "since (the controller has no use for them)")
              .Register(*registry_)
              .Add({})),
      buckets_(prometheus::BuildGauge()
                   .Name("sluice_agent_buckets")
                   .Help("Buckets held by this agent")
                   .Register(*registry_)
                   .Add({})),
      controller_reachable_(prometheus::BuildGauge()
                                .Name("sluice_agent_controller_reachable")
                                .Help("1 when the controller answered "
                                      "lately, else 0")
                                .Register(*registry_)
                                .Add({})),
      controllers_reachable_(prometheus::BuildGauge()
                                 .Name("sluice_agent_controllers_reachable")
                                 .Help("Controllers that answered lately")
                                 .Register(*registry_)
                                 .Add({})),
      controller_set_version_(
          prometheus::BuildGauge()
              .Name("sluice_agent_controller_set_version")
              .Help("Version of the controller set this agent follows "
                    "(0: none known)")
              .Register(*registry_)
              .Add({})),
      usage_dropped_(prometheus::BuildCounter()
                         .Name("sluice_agent_usage_reports_dropped_total")
                         .Help("Usage reports dropped unacknowledged because "
                               "too many were waiting")
                         .Register(*registry_)
                         .Add({})),
      usage_pending_(prometheus::BuildGauge()
                         .Name("sluice_agent_usage_reports_pending")
                         .Help("Usage reports waiting for the controller's "
                               "acknowledgement")
                         .Register(*registry_)
                         .Add({})) {}

AgentMetrics::~AgentMetrics() = default;

Status AgentMetrics::StartExposer(const std::string& host_port) {
  StatusOr<HostPort> hp = ParseHostPort(host_port, /*allow_zero=*/true);
  if (!hp.ok()) {
    return Status::InvalidArgument("--metrics: " + hp.status().message());
  }
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(host_port, 1);
  } catch (const std::exception& e) {
    // civetweb reports a failed bind by throwing.
    return Status::Unavailable("cannot serve metrics on " + host_port + ": " +
                               e.what() + "; choose another --metrics");
  }
  exposer_->RegisterCollectable(registry_);
  return Status::Ok();
}

int AgentMetrics::exposer_port() const {
  if (!exposer_) return 0;
  std::vector<int> ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

AgentMetrics::RuleCounters& AgentMetrics::CountersFor(const Rule& rule) {
  auto it = by_rule_.find(rule.id);
  if (it != by_rule_.end() && it->second.name == rule.name) return it->second;
  // New rule, or renamed: its series carry the current name.
  RuleCounters counters{
      rule.name, &decisions_.Add({{"rule", rule.name}, {"result", "allowed"}}),
      &decisions_.Add({{"rule", rule.name}, {"result", "refused"}}),
      &decisions_.Add({{"rule", rule.name}, {"result", "shadow_refused"}})};
  return by_rule_.insert_or_assign(rule.id, counters).first->second;
}

void AgentMetrics::RecordDecisions(
    const RuleIndex& rules, const std::vector<RuleDecisionCounts>& counts) {
  const std::vector<Rule>& list = rules.rules();
  for (size_t i = 0; i < counts.size() && i < list.size(); ++i) {
    const RuleDecisionCounts& c = counts[i];
    if (c.allowed == 0 && c.refused == 0 && c.shadow_refused == 0) continue;
    RuleCounters& counters = CountersFor(list[i]);
    if (c.allowed > 0) counters.allowed->Increment(c.allowed);
    if (c.refused > 0) counters.refused->Increment(c.refused);
    if (c.shadow_refused > 0) {
      counters.shadow_refused->Increment(c.shadow_refused);
    }
  }
}

void AgentMetrics::SetUsageReports(int64_t dropped, int64_t pending) {
  const double more = static_cast<double>(dropped) - usage_dropped_.Value();
  if (more > 0) usage_dropped_.Increment(more);
  usage_pending_.Set(static_cast<double>(pending));
}

void AgentMetrics::AddLeaseRequests(int64_t requests, int64_t reports) {
  if (requests > 0) lease_requests_.Increment(static_cast<double>(requests));
  if (reports > 0) lease_reports_.Increment(static_cast<double>(reports));
}

void AgentMetrics::AddUnsentReports(int64_t reports) {
  if (reports > 0)
    lease_reports_unsent_.Increment(static_cast<double>(reports));
}

void AgentMetrics::SetBuckets(int64_t buckets) {
  buckets_.Set(static_cast<double>(buckets));
}

void AgentMetrics::SetControllerReachable(bool reachable) {
  controller_reachable_.Set(reachable ? 1 : 0);
}

void AgentMetrics::SetControllers(int64_t reachable, int64_t set_version) {
  controllers_reachable_.Set(static_cast<double>(reachable));
  controller_set_version_.Set(static_cast<double>(set_version));
}

}  // namespace sluice
