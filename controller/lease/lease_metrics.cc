#include "controller/lease/lease_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace sluice {
namespace {

prometheus::Counter* NewCounter(prometheus::Registry* registry,
                                const char* name, const char* help) {
  if (registry == nullptr) return nullptr;
  return &prometheus::BuildCounter()
              .Name(name)
              .Help(help)
              .Register(*registry)
              .Add({});
}

prometheus::Gauge* NewGauge(prometheus::Registry* registry, const char* name,
                            const char* help) {
  if (registry == nullptr) return nullptr;
  return &prometheus::BuildGauge()
              .Name(name)
              .Help(help)
              .Register(*registry)
              .Add({});
}

void Set(prometheus::Gauge* gauge, int64_t value) {
  if (gauge != nullptr) gauge->Set(static_cast<double>(value));
}

void Add(prometheus::Counter* counter, int64_t delta) {
  if (counter != nullptr && delta > 0) {
    counter->Increment(static_cast<double>(delta));
  }
}

}  // namespace

LeaseMetrics::LeaseMetrics(prometheus::Registry* registry,
                           LeaseCountAtomics atomics)
    : lease_requests_(NewCounter(registry,
                                 "sluice_controller_lease_requests_total",
                                 "LeaseRequests received from agents")),
      lease_reports_(NewCounter(
          registry, "sluice_controller_lease_reports_total",
          "Items of LeaseRequests that only reported usage (buckets the "
          "agents decide locally), answered with no grant")),
      tokens_granted_(NewCounter(registry,
                                 "sluice_controller_lease_tokens_granted_total",
                                 "Tokens granted to agents in leases")),
      wire_errors_(
          NewCounter(registry, "sluice_controller_wire_errors_total",
                     "Frames from agents that were malformed or unexpected")),
      agents_connected_(NewGauge(registry, "sluice_controller_agents_connected",
                                 "Agents heard from within the agent timeout")),
      buckets_(NewGauge(registry, "sluice_controller_lease_buckets",
                        "Buckets with a budget at the controller")),
      bucket_agents_(
          NewGauge(registry, "sluice_controller_lease_bucket_agents",
                   "(bucket, agent) pairs the allocators keep a demand for")),
      learning_(NewGauge(registry, "sluice_controller_learning",
                         "1 during the learning period after a start, when "
                         "budgets start empty and only fair shares of the "
                         "refill are granted, else 0")),
      atomics_(atomics) {}

void LeaseMetrics::PublishLearning(bool learning) {
  if (!first_learning_ && learning == learning_published_) return;
  first_learning_ = false;
  learning_published_ = learning;
  Set(learning_, learning ? 1 : 0);
}

void LeaseMetrics::Publish(const LedgerCounts& counts) {
  Add(lease_requests_, counts.lease_requests - published_.lease_requests);
  Add(lease_reports_, counts.lease_reports - published_.lease_reports);
  Add(tokens_granted_, counts.tokens_granted - published_.tokens_granted);
  // The first time, everything: a server started again on the same
  // registry starts from what its new ledger says.
  if (first_ || counts.agents != published_.agents) {
    PublishAgents(counts.agents);
  }
  if (first_ || counts.buckets != published_.buckets ||
      counts.bucket_agents != published_.bucket_agents) {
    atomics_.buckets->store(counts.buckets);
    atomics_.bucket_agents->store(counts.bucket_agents);
    Set(buckets_, counts.buckets);
    Set(bucket_agents_, counts.bucket_agents);
  }
  published_ = counts;
  first_ = false;
}

void LeaseMetrics::CountWireError() {
  if (wire_errors_ != nullptr) wire_errors_->Increment();
}

void LeaseMetrics::PublishNoAgents() {
  PublishAgents(0);
  published_.agents = 0;
}

void LeaseMetrics::PublishAgents(int64_t agents) {
  atomics_.agents->store(agents);
  Set(agents_connected_, agents);
}

}  // namespace sluice
