// ClusterRelay: the lease thread's link to this controller's membership
// (several controllers, docs/high-availability.md). Each tick it takes the
// newest heartbeat outcome from the mailbox (controller/cluster/
// cluster_mailbox.h), has the ledger adopt it, and says whether every
// agent must be told the new set (Controllers); it publishes the view's
// state back to the mailbox (for /readyz) and to the metrics:
//   sluice_controller_cluster_members, sluice_controller_cluster_set_version,
//   sluice_controller_ownership_changes_total, sluice_controller_holding,
//   sluice_controller_fenced (the buckets this controller owns and keeps a
//   budget for are sluice_controller_lease_buckets).
// A null mailbox: nothing to adopt, version 0 (a controller on its own).
//
// Thread-compatible: the lease thread owns it.
#pragma once

#include <cstdint>

#include "controller/cluster/cluster_mailbox.h"
#include "controller/lease/lease_ledger.h"

namespace prometheus {
class Counter;
class Gauge;
class Registry;
}  // namespace prometheus

namespace sluice {

class ClusterRelay {
 public:
  // `mailbox` (may be null) and `registry` (may be null) must outlive it.
  ClusterRelay(ClusterMailbox* mailbox, prometheus::Registry* registry);

  // Adopts the newest outcome, if any. True: the set in force changed,
  // send every agent ledger->ControllersMessage().
  bool Pump(LeaseLedger* ledger, int64_t now);
  // Publishes the state (cheap when nothing changed).
  void Publish(const LeaseLedger& ledger, int64_t now);

 private:
  ClusterMailbox* const mailbox_;
  prometheus::Gauge* members_ = nullptr;
  prometheus::Gauge* version_ = nullptr;
  prometheus::Counter* changes_ = nullptr;
  prometheus::Gauge* holding_ = nullptr;
  prometheus::Gauge* fenced_ = nullptr;
  int64_t published_changes_ = 0;
  // What was published last, to publish only changes (and every 100 ms).
  ClusterState last_;
  int64_t last_publish_ = 0;
};

}  // namespace sluice
