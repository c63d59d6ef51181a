#include "controller/cluster/cluster_member.h"

#include <pthread.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <utility>

#include "platform/log.h"

namespace sluice {

std::string MakeControllerId() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  std::random_device random;
  const uint64_t r = (static_cast<uint64_t>(random()) << 32) ^ random();
  char suffix[17];
  snprintf(suffix, sizeof(suffix), "%016llx",
           static_cast<unsigned long long>(r));
  return std::string(host[0] != '\0' ? host : "controller") + ":" +
         std::to_string(getpid()) + ":" + std::string(suffix, 8);
}

ClusterMember::ClusterMember(ClusterMemberOptions options,
                             MembershipStore* store, ClusterMailbox* mailbox,
                             const Clock* clock)
    : options_(std::move(options)),
      store_(store),
      mailbox_(mailbox),
      clock_(clock) {}

ClusterMember::~ClusterMember() { Stop(); }

void ClusterMember::Start() {
  if (thread_.joinable()) return;
  stop_.store(false);
  thread_ = std::thread([this] { Run(); });
}

void ClusterMember::Stop() {
  if (!thread_.joinable()) return;
  {
    MutexLock lock(&mu_);
    stop_.store(true);
    cv_.NotifyAll();
  }
  thread_.join();
  Status left = store_->Leave(options_.self.id);
  if (!left.ok()) {
    LogWarn("cluster",
            "could not leave the controllers table (the others "
            "drop this controller after its heartbeat goes "
            "stale): " +
                left.message());
  }
}

void ClusterMember::Run() {
  // Named for top -H and perf (tests/bench/idle_cost.sh).
  pthread_setname_np(pthread_self(), "sluice-member");
  bool first = true;
  bool failing = false;
  const auto period = std::chrono::milliseconds(options_.timings.heartbeat_ms);
  auto next = std::chrono::steady_clock::now();
  while (!stop_.load()) {
    Round(&first, &failing);
    next += period;
    const auto now = std::chrono::steady_clock::now();
    if (next < now) next = now;  // a slow round: no burst to catch up
    MutexLock lock(&mu_);
    while (!stop_.load() && cv_.WaitUntil(&mu_, next)) {
    }
  }
}

void ClusterMember::Round(bool* first, bool* failing) {
  const int64_t started = clock_->NowNanos();
  StatusOr<BeatResult> beat =
      store_->Beat(options_.self, options_.timings.dead_ms, options_.forget_ms,
                   /*replace_same_endpoint=*/*first);
  if (!beat.ok()) {
    if (!*failing) {
      LogWarn("cluster", "heartbeat failed: " + beat.status().message() +
                             "; this controller stops granting leases after " +
                             std::to_string(options_.timings.fence_ms) +
                             " ms without one, unless it is alone in its set");
    }
    *failing = true;
    MutexLock lock(&mu_);
    last_error_ = beat.status();
    return;
  }
  if (*failing) LogInfo("cluster", "heartbeat succeeds again");
  *failing = false;
  *first = false;
  if (!joined_) {
    at_join_ = beat->previous;
    joined_ = true;
  }
  if (beat->replaced) {
    LogInfo("cluster", "stored the controller set at version " +
                           std::to_string(beat->stored.version) + " (" +
                           std::to_string(beat->stored.members.size()) +
                           " members)");
  }
  mailbox_->Post(ClusterOutcome{started, beat->stored, at_join_});
  if (options_.on_rules_revision) {
    options_.on_rules_revision(beat->rules_revision);
  }
  MutexLock lock(&mu_);
  rows_ = std::move(beat->rows);
  rows_as_of_ = started;
  last_error_ = Status::Ok();
}

std::vector<MemberRow> ClusterMember::Rows(int64_t* as_of) const {
  MutexLock lock(&mu_);
  if (as_of != nullptr) *as_of = rows_as_of_;
  return rows_;
}

Status ClusterMember::last_error() const {
  MutexLock lock(&mu_);
  return last_error_;
}

}  // namespace sluice
