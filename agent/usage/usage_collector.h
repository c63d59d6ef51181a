// UsageCollector: the agent's usage analytics (docs/analytics.md), off the
// decision path. The event loop feeds it what it already has in hand:
//   - AddDecisions(): the checker's per-rule decision counters, harvested
//     on the sweep timer (plain integers the checks increment; nothing on
//     the decision path waits, allocates or locks for analytics);
//   - AddWants(): the per-bucket admitted and refused tokens of the lease
//     requests it sends anyway, into one Space-Saving summary per rule,
//     minute and ranking (common/heavy_hitters.h, `capacity` keys each).
//     The agent calls it on the lease client's thread (as each request is
//     taken for sending), not on the event loop: with many buckets it
//     costs a few hundred ns per item.
// Report() then makes a UsageReport of everything gathered since the last
// one: exact counts per rule and minute, and the summaries of the minutes
// that have ended; FinalReport(), when the agent stops, those of the
// current minute too.
//
// Times are Unix milliseconds, passed in (the minute a harvest falls in
// is the minute its counts are booked to).
//
// Pure (no I/O, no clock). Thread-safety: AddDecisions() and Report() on
// one thread (the event loop); AddWants() on any one other thread. The
// summaries are shared under a mutex that Report() only tries: it never
// waits, and takes the ended minutes' summaries at a later report when
// AddWants() holds it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "agent/check/checker.h"
#include "common/heavy_hitters.h"
#include "common/rule_index.h"
#include "common/usage.h"
#include "common/wire.h"

namespace sluice {

class UsageCollector {
 public:
  static constexpr size_t kDefaultCapacity = 256;

  // `incarnation` >= 1 names this run of the agent in its reports.
  UsageCollector(std::string agent_id, uint64_t incarnation,
                 size_t capacity = kDefaultCapacity);

  void AddDecisions(const RuleIndex& rules,
                    const std::vector<RuleDecisionCounts>& counts,
                    int64_t now_ms);
  void AddWants(const std::vector<LeaseWant>& wants, int64_t now_ms);

  // A report of what was gathered (nullopt when there is nothing: no
  // counts and no ended minute), numbered 1, 2, ... `report` carries the
  // agent's state fields (version, rules_version, buckets, leases) to copy.
  std::optional<UsageReport> Report(int64_t now_ms, const UsageReport& state);
  // The agent's last report, as it stops: Report() with the summaries of
  // every minute, the current one too (nothing comes after it), and it
  // waits for the summaries' mutex.
  std::optional<UsageReport> FinalReport(int64_t now_ms,
                                         const UsageReport& state);

 private:
  struct Summaries {
    HeavyHitters by_refused;
    HeavyHitters by_allowed;
  };
  using Key = std::pair<int64_t, int64_t>;  // rule id, minute

  // Report() (summaries of the minutes before `now_ms`'s, if the mutex is
  // free) or FinalReport() (all of them, waiting for it).
  std::optional<UsageReport> Make(int64_t now_ms, const UsageReport& state,
                                  bool final);

  const std::string agent_id_;
  const uint64_t incarnation_;
  const size_t capacity_;
  uint64_t next_seq_ = 1;
  std::map<Key, RuleDecisionCounts> counts_;
  // std::mutex rather than platform/mutex.h's Mutex: Report() needs
  // try_lock. Guards summaries_.
  std::mutex summaries_mu_;
  std::map<Key, Summaries> summaries_;
};

}  // namespace sluice
