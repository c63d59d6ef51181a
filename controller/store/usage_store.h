// UsageStore: usage analytics in PostgreSQL (migrations/0011_usage.sql,
// docs/analytics.md): the agents' reports written exactly once, the
// per-rule series and heaviest clients read back, old rows pruned.
//
// Record() writes one report in one transaction: its name (agent id,
// incarnation, sequence) in usage_reports, its counts added to the minute
// and hour rows, its summaries merged into the minute and hour summaries.
// A report whose name is already there is a duplicate (sent again after a
// lost acknowledgement): nothing is added, and the caller acknowledges it
// all the same. Summaries are kept at kStoredTopCapacity entries per rule,
// period and ranking (the merge keeps HeavyHitters' guarantees 1 and 2).
//
// Prune() deletes rows past their retention in batches of kPruneBatch rows,
// one short transaction each, so no DELETE holds locks for long.
//
// Thread-safe (through the Database, which serialises its connection:
// give the usage store a Database of its own so that reports and the admin
// API do not wait on each other).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/heavy_hitters.h"
#include "common/status.h"
#include "common/usage.h"
#include "controller/store/database.h"

namespace sluice {

// How long each kind of row is kept (ms). Defaults in the comments.
struct UsageRetention {
  int64_t minute_ms = 7 * 86'400'000LL;     // counts per minute: 7 days
  int64_t hour_ms = 90 * 86'400'000LL;      // counts per hour: 90 days
  int64_t top_minute_ms = 6 * 3'600'000LL;  // clients per minute: 6 hours
  int64_t top_hour_ms = 7 * 86'400'000LL;   // clients per hour: 7 days
  int64_t reports_ms = 2 * 86'400'000LL;    // report names: 2 days
};

// One report as the store takes it: summaries already checked.
struct UsageBatch {
  std::string agent_id;
  int64_t incarnation = 0;
  int64_t seq = 0;
  int64_t received_ms = 0;
  std::vector<UsageCounts> counts;
  struct Top {
    int64_t rule_id = 0;
    int64_t minute_ms = 0;
    UsageRanking by = UsageRanking::kRefused;
    HeavyHitters summary{1};
  };
  std::vector<Top> tops;
};

// Which table a read uses.
enum class UsageResolution { kMinute, kHour };

struct UsagePoint {
  int64_t t_ms = 0;
  int64_t allowed = 0;
  int64_t refused = 0;
  int64_t shadow_refused = 0;
};

class UsageStore {
 public:
  static constexpr size_t kStoredTopCapacity = 256;
  static constexpr int64_t kPruneBatch = 5000;

  // `db` must outlive this.
  explicit UsageStore(Database* db) : db_(db) {}

  enum class Outcome { kCounted, kDuplicate };
  StatusOr<Outcome> Record(const UsageBatch& batch);

  // Sums per step over [from_ms, to_ms) (from_ms aligned to the
  // resolution by the caller), for one rule or (rule_id 0) all; only the
  // steps that have rows, by time. Each point's t_ms is the step's start.
  StatusOr<std::vector<UsagePoint>> ReadSeries(int64_t rule_id, int64_t from_ms,
                                               int64_t to_ms, int64_t step_ms,
                                               UsageResolution resolution);

  // Sums per rule and step over [from_ms, to_ms), every rule at once (from
  // one scan of the window, through the index on t_ms): only the (rule,
  // step) pairs that have rows, by rule id then time.
  struct RulePoint {
    int64_t rule_id = 0;
    UsagePoint point;
  };
  StatusOr<std::vector<RulePoint>> ReadRuleSeries(int64_t from_ms,
                                                  int64_t to_ms,
                                                  int64_t step_ms,
                                                  UsageResolution resolution);

  // The summaries of `rule_id` ranked `by` over [from_ms, to_ms), merged
  // into one (capacity: the sum of their sizes, so nothing is dropped)
  // in *out.
  Status ReadTop(int64_t rule_id, UsageRanking by, int64_t from_ms,
                 int64_t to_ms, UsageResolution resolution, HeavyHitters* out);

  // Deletes rows older than their retention at `now_ms`, in batches of
  // `batch_rows` rows (one transaction each), at most `max_batches` batches
  // per table per call. Returns the rows deleted.
  StatusOr<int64_t> Prune(int64_t now_ms, const UsageRetention& retention,
                          int max_batches = 100,
                          int64_t batch_rows = kPruneBatch);

 private:
  Database* const db_;
};

}  // namespace sluice
