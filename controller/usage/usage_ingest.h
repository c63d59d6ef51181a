// UsageIngest: the controller's writer of usage reports (a UsageSink for
// the lease server, controller/lease/usage_sink.h). One thread of its own
// with its own PostgreSQL connection (UsageStore on a Database of its own)
// takes reports in arrival order and stores each in one transaction
// (UsageStore::Record, idempotent by agent, incarnation and sequence); only
// then is it acknowledged. While PostgreSQL is away the report at the head
// waits and is retried every retry_ms; reports arriving meanwhile queue up
// to max_queue, and beyond that are refused unacknowledged (the agents keep
// them and send them again). The same thread prunes old rows every
// prune_every_ms (UsageStore::Prune, bounded batches).
//
// Parts of a report that name an unknown rule or hold a corrupt summary
// are skipped and counted (usage_metrics.h); the rest is stored.
//
// Thread-safe: Offer and TakeAcks from the lease thread, Start/Stop from
// the owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "controller/catalog/rule_catalog.h"
#include "controller/lease/usage_sink.h"
#include "controller/store/usage_store.h"
#include "controller/usage/usage_metrics.h"
#include "platform/mutex.h"

namespace sluice {

struct UsageIngestOptions {
  size_t max_queue = 10'000;        // reports waiting for PostgreSQL
  int64_t retry_ms = 1000;          // after a failed write
  int64_t prune_every_ms = 60'000;  // retention enforced this often
  UsageRetention retention;
};

class UsageIngest : public UsageSink {
 public:
  // All must outlive this; `registry` may be null.
  UsageIngest(UsageIngestOptions options, UsageStore* store, RuleCatalog* rules,
              prometheus::Registry* registry);
  ~UsageIngest() override;  // Stop()s

  void Start() EXCLUDES(mu_);
  void Stop() EXCLUDES(mu_);

  bool Offer(const std::string& peer, UsageReport report) override
      EXCLUDES(mu_);
  void TakeAcks(std::vector<std::pair<std::string, UsageAck>>* out) override
      EXCLUDES(mu_);

  // Reports stored (counted or duplicate) since start.
  int64_t stored() const EXCLUDES(mu_);

 private:
  struct Pending {
    std::string peer;
    UsageReport report;
  };
  void Run() EXCLUDES(mu_);
  // Stores `item`; false when PostgreSQL failed (retry later).
  bool Store(const Pending& item);
  void PruneIfDue(int64_t* last_prune_ms);
  // Waits up to `ms` for a stop; false when stopping.
  bool Pause(int64_t ms) EXCLUDES(mu_);

  const UsageIngestOptions options_;
  UsageStore* const store_;
  RuleCatalog* const rules_;
  UsageMetrics metrics_;

  mutable Mutex mu_;
  CondVar cv_;
  std::deque<Pending> queue_ GUARDED_BY(mu_);
  std::vector<std::pair<std::string, UsageAck>> acks_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
  int64_t stored_ GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace sluice
