#include "controller/usage/usage_ingest.h"

#include <pthread.h>

#include <chrono>
#include <set>

#include "controller/usage/report_batch.h"
#include "platform/log.h"

namespace sluice {
namespace {

constexpr char kLog[] = "usage";

int64_t WallMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

UsageIngest::UsageIngest(UsageIngestOptions options, UsageStore* store,
                         RuleCatalog* rules, prometheus::Registry* registry)
    : options_(std::move(options)),
      store_(store),
      rules_(rules),
      metrics_(registry) {}

UsageIngest::~UsageIngest() { Stop(); }

void UsageIngest::Start() {
  {
    MutexLock lock(&mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Run(); });
}

void UsageIngest::Stop() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

bool UsageIngest::Offer(const std::string& peer, UsageReport report) {
  {
    MutexLock lock(&mu_);
    if (queue_.size() >= options_.max_queue) {
      metrics_.CountDropped();
      return false;
    }
    queue_.push_back(Pending{peer, std::move(report)});
    metrics_.SetQueue(static_cast<int64_t>(queue_.size()));
  }
  cv_.NotifyAll();
  return true;
}

void UsageIngest::TakeAcks(std::vector<std::pair<std::string, UsageAck>>* out) {
  MutexLock lock(&mu_);
  for (auto& ack : acks_) out->push_back(std::move(ack));
  acks_.clear();
}

int64_t UsageIngest::stored() const {
  MutexLock lock(&mu_);
  return stored_;
}

bool UsageIngest::Pause(int64_t ms) {
  MutexLock lock(&mu_);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!stop_ && cv_.WaitUntil(&mu_, deadline)) {
  }
  return !stop_;
}

void UsageIngest::Run() {
  // Named for per-thread CPU readings (tests/bench/usage_ingest.sh).
  pthread_setname_np(pthread_self(), "sluice-usage");
  int64_t last_prune_ms = 0;
  while (true) {
    const Pending* head = nullptr;
    {
      MutexLock lock(&mu_);
      const auto deadline =
          std::chrono::steady_clock::now() + std::chrono::seconds(1);
      while (!stop_ && queue_.empty() && cv_.WaitUntil(&mu_, deadline)) {
      }
      if (stop_) return;
      // Only this thread pops, so the head stays valid unlocked.
      if (!queue_.empty()) head = &queue_.front();
    }
    if (head != nullptr) {
      if (!Store(*head)) {
        if (!Pause(options_.retry_ms)) return;
        continue;
      }
      MutexLock lock(&mu_);
      acks_.emplace_back(head->peer,
                         UsageAck{head->report.incarnation, head->report.seq});
      queue_.pop_front();
      ++stored_;
      metrics_.SetQueue(static_cast<int64_t>(queue_.size()));
    }
    PruneIfDue(&last_prune_ms);
  }
}

bool UsageIngest::Store(const Pending& item) {
  RuleCatalog::Snapshot snapshot = rules_->Get();
  std::set<int64_t> ids;
  for (const Rule& rule : snapshot.rules) ids.insert(rule.id);
  SkippedParts skipped;
  const UsageBatch batch = BatchFromReport(
      item.report, WallMillis(), [&](int64_t id) { return ids.count(id) > 0; },
      &skipped);
  StatusOr<UsageStore::Outcome> outcome = store_->Record(batch);
  if (!outcome.ok()) {
    LogWarn(kLog, "cannot store a usage report of agent '" +
                      item.report.agent_id + "' (kept, retried in " +
                      std::to_string(options_.retry_ms) +
                      " ms): " + outcome.status().message());
    return false;
  }
  const bool duplicate = *outcome == UsageStore::Outcome::kDuplicate;
  metrics_.CountReport(duplicate);
  if (duplicate) return true;
  metrics_.CountInvalid("unknown_rule", skipped.unknown_rule);
  metrics_.CountInvalid("corrupt_summary", skipped.corrupt_summary);
  if (skipped.unknown_rule + skipped.corrupt_summary > 0) {
    LogWarn(kLog, "a usage report of agent '" + item.report.agent_id +
                      "' had " + std::to_string(skipped.unknown_rule) +
                      " parts for unknown rules and " +
                      std::to_string(skipped.corrupt_summary) +
                      " corrupt summaries; they were skipped");
  }
  for (const UsageCounts& c : batch.counts) {
    metrics_.AddDecisions(c.rule_id, c.allowed, c.refused, c.shadow_refused);
  }
  metrics_.SetLag(static_cast<double>(WallMillis() - item.report.sent_ms) /
                  1000.0);
  return true;
}

void UsageIngest::PruneIfDue(int64_t* last_prune_ms) {
  const int64_t now = WallMillis();
  if (now - *last_prune_ms < options_.prune_every_ms) return;
  *last_prune_ms = now;
  StatusOr<int64_t> deleted = store_->Prune(now, options_.retention);
  if (!deleted.ok()) {
    LogWarn(kLog, "pruning old usage rows failed (retried later): " +
                      deleted.status().message());
  } else if (*deleted > 0) {
    LogInfo(kLog, "pruned " + std::to_string(*deleted) + " old usage rows");
  }
}

}  // namespace sluice
