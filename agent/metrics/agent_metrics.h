// AgentMetrics: the agent's Prometheus metrics (prometheus-cpp), served on
// --metrics HOST:PORT at /metrics when that flag is given.
//
//   sluice_agent_decisions_total{rule,result}  checks per rule and result
//       (allowed | refused | shadow_refused; see agent/check/checker.h for what
//       each counts). `rule` is the rule's name.
//   sluice_agent_lease_requests_total          bucket lease requests sent
//       to the controller (one per bucket per LeaseRequest that asks for
//       tokens)
//   sluice_agent_lease_reports_total           bucket reports sent without
//       asking for tokens (buckets decided locally, common/local_bucket.h)
//   sluice_agent_lease_reports_unsent_total    reports of quiet buckets not
//       sent because the controller had no use for them (an agent alone
//       on the bucket's budget, refilled since: LocalBucket::ReportMoot)
//   sluice_agent_buckets                       buckets held
//   sluice_agent_controller_reachable          1 when the controller
//       answered lately (with several: any of them), else 0
//   sluice_agent_controllers_reachable         controllers that answered
//       lately (docs/high-availability.md)
//   sluice_agent_controller_set_version        the version of the
//       controller set the agent follows (0: none known)
//   sluice_agent_usage_reports_dropped_total   usage reports dropped
//       unacknowledged because too many were waiting (agent/usage/)
//   sluice_agent_usage_reports_pending         usage reports waiting for
//       the controller's acknowledgement
//
// The hot path never touches this class: the checker counts decisions in
// plain integers, and the agent hands them over here every sweep
// (RecordDecisions). The Counter pointers of each rule are cached by rule
// id, so a flush looks up no label map.
//
// Thread-safety: the methods are called from the agent's event loop only;
// the Exposer's threads read the registry concurrently (prometheus-cpp
// metrics are atomic).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/check/checker.h"
#include "common/rule_index.h"
#include "common/status.h"

namespace sluice {

class AgentMetrics {
 public:
  AgentMetrics();
  ~AgentMetrics();

  // Serves /metrics on `host_port` ("127.0.0.1:9464"; port 0 picks one).
  Status StartExposer(const std::string& host_port);
  // The bound port, 0 when not serving.
  int exposer_port() const;

  // Adds `counts` (parallel to rules.rules()) to the decision counters.
  void RecordDecisions(const RuleIndex& rules,
                       const std::vector<RuleDecisionCounts>& counts);
  // Bucket items sent: `requests` ask for tokens, `reports` do not.
  void AddLeaseRequests(int64_t requests, int64_t reports);
  // Reports not sent (Checker::Sweep's `unsent`).
  void AddUnsentReports(int64_t reports);
  void SetBuckets(int64_t buckets);
  void SetControllerReachable(bool reachable);
  void SetControllers(int64_t reachable, int64_t set_version);
  // The lease client's totals (dropped only grows).
  void SetUsageReports(int64_t dropped, int64_t pending);

  const std::shared_ptr<prometheus::Registry>& registry() const {
    return registry_;
  }

 private:
  struct RuleCounters {
    std::string name;
    prometheus::Counter* allowed;
    prometheus::Counter* refused;
    prometheus::Counter* shadow_refused;
  };
  RuleCounters& CountersFor(const Rule& rule);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Counter& lease_requests_;
  prometheus::Counter& lease_reports_;
  prometheus::Counter& lease_reports_unsent_;
  prometheus::Gauge& buckets_;
  prometheus::Gauge& controller_reachable_;
  prometheus::Gauge& controllers_reachable_;
  prometheus::Gauge& controller_set_version_;
  prometheus::Counter& usage_dropped_;
  prometheus::Gauge& usage_pending_;
  std::unordered_map<int64_t, RuleCounters> by_rule_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace sluice
