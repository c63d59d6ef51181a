// LeaseMetrics: publishes the lease ledger's counts (lease_ledger.h) as
// Prometheus metrics and as the atomics behind LeaseServer's accessors:
//   sluice_controller_lease_requests_total       LeaseRequests answered
//   sluice_controller_lease_reports_total        their items that only
//                                                reported (want 0)
//   sluice_controller_lease_tokens_granted_total tokens granted in leases
//   sluice_controller_wire_errors_total          bad frames from agents
//   sluice_controller_agents_connected           agents known now
//   sluice_controller_lease_buckets              budgets
//   sluice_controller_lease_bucket_agents        (budget, agent) pairs
// Publish() compares with what it published last and touches only what
// changed (everything the first time): cheap enough to call after every
// message.
//
// Thread-compatible: the lease thread publishes; the atomics may be read
// from any thread.
#pragma once

#include <atomic>
#include <cstdint>

#include "controller/lease/lease_ledger.h"

namespace prometheus {
class Counter;
class Gauge;
class Registry;
}  // namespace prometheus

namespace sluice {

// Where the lease thread publishes counts for other threads to read.
struct LeaseCountAtomics {
  std::atomic<int64_t>* agents;
  std::atomic<int64_t>* buckets;
  std::atomic<int64_t>* bucket_agents;
};

class LeaseMetrics {
 public:
  // Registers the metrics in `registry` (which may be null: atomics only;
  // it must outlive this object). The atomics must outlive it too.
  LeaseMetrics(prometheus::Registry* registry, LeaseCountAtomics atomics);

  void Publish(const LedgerCounts& counts);
  void CountWireError();
  // sluice_controller_learning: whether the ledger is in its learning
  // period (set when it changes).
  void PublishLearning(bool learning);
  // No agents any more (the server stopped).
  void PublishNoAgents();

 private:
  void PublishAgents(int64_t agents);

  prometheus::Counter* lease_requests_ = nullptr;
  prometheus::Counter* lease_reports_ = nullptr;
  prometheus::Counter* tokens_granted_ = nullptr;
  prometheus::Counter* wire_errors_ = nullptr;
  prometheus::Gauge* agents_connected_ = nullptr;
  prometheus::Gauge* buckets_ = nullptr;
  prometheus::Gauge* bucket_agents_ = nullptr;
  prometheus::Gauge* learning_ = nullptr;
  bool first_learning_ = true;
  bool learning_published_ = false;
  const LeaseCountAtomics atomics_;
  LedgerCounts published_;  // as of the last Publish
  bool first_ = true;       // no Publish yet
};

}  // namespace sluice
