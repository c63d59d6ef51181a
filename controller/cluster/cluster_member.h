// ClusterMember: this controller's membership, kept by a thread of its own
// ("sluice-member") on a database connection of its own, so that neither
// the lease thread nor the REST handlers ever wait for it.
//
// Every heartbeat_ms it runs one MembershipStore::Beat (membership_store.h)
// and posts the outcome to the mailbox (the lease thread adopts it,
// cluster_view.h); a failed round is logged (once per outage) and changes
// nothing: the lease thread fences by time. The first round after Start()
// replaces rows of earlier incarnations on the same endpoint (Start() is
// called once the endpoint is bound). Each round also reports the rules'
// revision (on_rules_revision), so that a change made through another
// controller is caught up within a heartbeat. Stop() leaves the table.
//
// Thread-safety: Start/Stop from one thread; Rows() and the accessors from
// any.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "controller/cluster/cluster_mailbox.h"
#include "controller/cluster/cluster_view.h"
#include "controller/cluster/membership_store.h"
#include "platform/mutex.h"

namespace sluice {

struct ClusterMemberOptions {
  MemberInfo self;
  ClusterTimings timings;
  // Rows silent this long are deleted (long-dead members).
  int64_t forget_ms = 10 * 60 * 1000;
  // Called from the member's thread after every successful round.
  std::function<void(int64_t rules_revision)> on_rules_revision;
};

// A unique member id for this process: host:pid:random.
std::string MakeControllerId();

class ClusterMember {
 public:
  // `store`, `mailbox` and `clock` must outlive this.
  ClusterMember(ClusterMemberOptions options, MembershipStore* store,
                ClusterMailbox* mailbox, const Clock* clock);
  ~ClusterMember();  // Stop()s

  void Start();
  void Stop();

  // The table's rows as of the last successful round, and when that round
  // started (monotonic ns; 0: none yet).
  std::vector<MemberRow> Rows(int64_t* as_of) const EXCLUDES(mu_);
  // The last round's error (OK when it succeeded).
  Status last_error() const EXCLUDES(mu_);
  const MemberInfo& self() const { return options_.self; }

 private:
  void Run();
  void Round(bool* first, bool* failing);

  const ClusterMemberOptions options_;
  MembershipStore* const store_;
  ClusterMailbox* const mailbox_;
  const Clock* const clock_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  ControllerSet at_join_;
  bool joined_ = false;

  mutable Mutex mu_;
  CondVar cv_;
  std::vector<MemberRow> rows_ GUARDED_BY(mu_);
  int64_t rows_as_of_ GUARDED_BY(mu_) = 0;
  Status last_error_ GUARDED_BY(mu_);
};

}  // namespace sluice
