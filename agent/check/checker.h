// Checker: RL.CHECK semantics (docs/api.md), on the agent's rule index and
// bucket table. Pure: no I/O, time passed in as int64 nanoseconds.
//
// One check, Check(domain, cost, descriptor, now):
//   1. RuleIndex::Match gives the applicable rules (one per match-key group).
//      None: the reply is [1, -1, -1, 0, 0].
//   2. For each rule: its bucket key (BuildBucketKey) and LocalBucket, found
//      or created (a new bucket starts from the rule's safe share).
//   3. CanTake(cost) on every bucket. The check is admitted when every
//      enforce rule can take (AND). Then tokens are taken from every enforce
//      bucket and from every shadow bucket that can take; otherwise from
//      none (all or nothing): a refused check spends nothing anywhere.
//      Each bucket that could not take counts `cost` as refused demand
//      (LocalBucket::Refuse, which also spreads retry_after over the
//      refill; CountRefused for shadow rules); a bucket that could take,
//      in a check another rule refused, counts nothing.
//   4. The reply reports the most restrictive enforce rule: when refused,
//      the refusing rule with the largest retry_after (-1, "never", counts
//      as largest); when admitted, the rule with the least remaining tokens
//      after the take. Ties go to the first rule in match order. Shadow
//      rules never show in the reply (an application cannot tell them from
//      no rule), so a check matching only shadow rules replies
//      [1, -1, -1, 0, 0]. Decision::rule_id names the reported rule (0:
//      none).
//   cost 0 is a peek: nothing is taken, counted or created (a bucket not yet
//   held is reported as a fresh one would be). cost > burst gives
//   retry_after -1 (LocalBucket::CanTake).
//
// Decision counters, per rule of the current index (decision_counts()[i]
// belongs to rules()->rules()[i]), one per matched rule per check (cost > 0):
//   allowed        tokens were taken from the rule's bucket;
//   refused        an enforce rule could not take, so the check was refused;
//   shadow_refused a shadow rule could not take (it would have refused).
// An enforce rule that could take, in a check another rule refused, counts
// nothing: nothing was taken from it and it was not the cause. The counters
// are plain integers: the agent publishes them to Prometheus periodically
// (AgentMetrics::RecordDecisions), so the hot path never touches a metric.
//
// Leases: after a check, a bucket whose NeedsLease() is true (evaluated only
// while the controller is reachable) is put on a pending list, at most once.
// TakeLeaseWants() drains it into LeaseWants (MarkRequested on each, or
// MarkReported for a bucket decided locally, whose want is 0: a report the
// controller answers with no grant); the agent sends them with
// LeaseClient::Submit. Sweep() does the same for
// buckets not checked lately (by NeedsSweepLease(): their reports of
// tokens spent from leases, and those of buckets decided locally, wait for
// LeaseTiming::quiet_report_ns, or not at all while the table is more than
// half full, so that memory is freed sooner) and evicts Idle() ones, a
// bounded slice of the table per call.
//
// Allocation: none for a check whose buckets are all known, once the
// scratch vectors have grown (they are reserved up front) and the pending
// list has its capacity.
//
// Thread-compatible: owned by the agent's event loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/check/bucket_table.h"
#include "agent/check/owner_map.h"
#include "common/decision.h"
#include "common/descriptor.h"
#include "common/local_bucket.h"
#include "common/rule_index.h"
#include "common/wire.h"

namespace sluice {

struct RuleDecisionCounts {
  int64_t allowed = 0;
  int64_t refused = 0;
  int64_t shadow_refused = 0;
};

// How a check accounts for a refusal (RL.ACQUIRE retries quietly).
struct CheckOptions {
  // Count `cost` as refused demand on the buckets (lease requests).
  bool report_demand = true;
  // Count refusals in the decision counters.
  bool count_refusal = true;
  // Give a refused check its turn in the bucket's retry queue
  // (LocalBucket::Refuse). Off for RL.ACQUIRE, which waits in the agent.
  bool spread_retry = true;
};

class Checker {
 public:
  enum class Result {
    kDone,         // *out holds the decision
    kBucketLimit,  // a new bucket was needed and the table is full
  };

  struct SweepStats {
    size_t scanned = 0;
    size_t evicted = 0;  // moot reports' buckets included
    size_t wants = 0;
    size_t moot = 0;  // reports not needed (LocalBucket::ReportMoot)
  };

  Checker(size_t max_buckets, LeaseTiming timing = {});

  // Installs a rule set (an immutable index, swapped whole). Buckets of
  // rules that are gone, or whose domain or match changed, are dropped;
  // buckets of rules that changed otherwise adopt them (Reconfigure). The
  // decision counters restart at zero for the new index: publish them
  // before calling this.
  void SetRules(std::shared_ptr<const RuleIndex> index, int64_t now);
  const std::shared_ptr<const RuleIndex>& rules() const { return index_; }

  // What the agent knows about the controller; applies to later checks.
  // With several controllers, controller_reachable says whether ANY owner
  // is reachable, and SetOwners() says which.
  void SetLeaseContext(const LeaseContext& ctx);
  const LeaseContext& lease_context() const { return ctx_; }

  // Several controllers (agent/check/owner_map.h): which buckets' owners
  // are reachable. Null, or every owner reachable, or none: the lease
  // context alone decides, as with one controller. Otherwise a bucket
  // whose owner is away is decided as if the controller were unreachable
  // (a valid lease it holds is spent first, then its failure_mode), and
  // its lease requests wait (nothing is marked). Only then does a check
  // look the owner up.
  void SetOwners(std::shared_ptr<const OwnerMap> owners);

  // See the header comment. `cost` >= 0.
  Result Check(std::string_view domain, int64_t cost, const Descriptor& d,
               int64_t now, Decision* out, const CheckOptions& options = {});

  // Pipelines: the server may Prepare() the checks of a batch of requests,
  // in order, then PrefetchPrepared(), then run them with Check() in the
  // same order, then ClearPrepared(). Prepare() works out what Check()
  // needs (rules, bucket keys) and starts loading the buckets from memory,
  // so that the memory loads of a whole batch overlap instead of stalling
  // each check in turn; it changes nothing a check can see. Check() uses
  // what was prepared for the same request (the same bytes of the same
  // buffer: `domain` and the descriptor's values must be views of it) and
  // works everything out itself otherwise. At most kMaxPrepared checks
  // are prepared per batch; the rest are simply not.
  static constexpr size_t kMaxPrepared = 1024;
  // Bucket key bytes held for prepared checks (beyond it, no more checks
  // are prepared in that batch).
  static constexpr size_t kMaxPreparedKeyBytes = 256 * 1024;
  // How far ahead of the check being run buckets are loaded (measured:
  // 16 to 64 buckets in flight work best; thousands evict each other).
  static constexpr size_t kPrefetchAhead = 16;
  void Prepare(std::string_view domain, const Descriptor& d);
  void PrefetchPrepared() const;
  void ClearPrepared();

  const std::vector<RuleDecisionCounts>& decision_counts() const {
    return counts_;
  }
  void ResetDecisionCounts();

  // Buckets waiting on the pending list.
  size_t pending_leases() const { return pending_.size(); }
  // Drains the pending list: appends a LeaseWant for each bucket that
  // still NeedsLease (and marks it requested). While the controller is
  // unreachable the list is dropped without marking anything, so the
  // buckets' reports wait for the next request.
  void TakeLeaseWants(int64_t now, std::vector<LeaseWant>* out);

  // Drains the pending list, then visits up to `max_entries` buckets from
  // where the last sweep stopped (wrapping around, each at most once per
  // call): evicts Idle() ones and buckets of unknown rules, and appends a
  // LeaseWant for those that NeedsSweepLease. A bucket whose report is
  // moot (LocalBucket::ReportMoot) is evicted instead, its report appended
  // to `unsent` (when given): the usage summaries count it, the
  // controller needs it not.
  SweepStats Sweep(int64_t now, size_t max_entries, std::vector<LeaseWant>* out,
                   std::vector<LeaseWant>* unsent = nullptr);

  // The agent stops: appends a report (want 0: nothing asked) of what each
  // bucket admitted and refused since its last report, for every bucket
  // that has one, so that the controller accounts for the tokens it spent
  // and the usage summaries count them. The pending list is dropped (its
  // requests are not sent). Visits the whole table.
  void TakeFinalReports(int64_t now, std::vector<LeaseWant>* out);

  // Applies a grant to the buckets it names (ApplyGrant with the time its
  // request was sent). Items for buckets no longer held are ignored (their
  // tokens expire unused). Returns the items applied.
  size_t ApplyGrant(const LeaseGrant& grant, int64_t sent_at, int64_t now);

  // A grant with each item's bucket key and key hash worked out, which any
  // thread can do (KeyGrant is pure and thread-safe): the agent's lease
  // thread does, so that the event loop only looks the buckets up
  // (prefetching ahead) and nothing of the grant is allocated or freed
  // there item by item. ApplyGrant(KeyGrant(g), ...) is ApplyGrant(g, ...).
  struct KeyedGrant {
    struct Item {
      uint32_t key_offset;  // in `keys`
      uint32_t key_size;
      uint64_t hash;
      int64_t tokens;
      int64_t ttl_ms;
    };
    std::string keys;
    std::vector<Item> items;
  };
  static KeyedGrant KeyGrant(const LeaseGrant& grant);
  size_t ApplyGrant(const KeyedGrant& grant, int64_t sent_at, int64_t now);

  // Buckets holding a valid lease at `now`; visits every bucket.
  size_t CountLeased(int64_t now) const;

  const BucketTable& table() const { return table_; }
  BucketTable& table() { return table_; }
  const LeaseTiming& timing() const { return timing_; }

 private:
  static constexpr uint32_t kPendingFlag = 1;

  struct Matched {
    const Rule* rule;
    BucketTable::Handle handle;  // kNone for a peek at an unknown bucket
    bool can;
    Decision d;
    const LeaseContext* ctx;  // ctx_, or owner_away_ctx_ (ContextFor)
  };

  // A request Prepare()d: its rules, keys and hashes are entries
  // [first, first + count) of prep_rules_, prep_keys_ and prep_hashes_.
  struct Prepared {
    const char* domain_data;
    size_t domain_size;
    size_t pairs;
    const char* first_value;
    const char* last_value;
    uint32_t first;
    uint32_t count;
    bool Is(std::string_view domain, const Descriptor& d) const;
  };
  struct KeySpan {
    uint32_t offset;  // in prep_key_bytes_
    uint32_t size;
  };
  // The next prepared request if it is this one (see Prepare), else null.
  const Prepared* TakePrepared(std::string_view domain, const Descriptor& d);

  // Steps of Check(). Finds (or, cost > 0, creates) the bucket of each of
  // the rule_count matched rules into matched_, with CanTake; clears
  // *admitted when an enforce rule cannot take. False when a bucket was
  // needed and the table is full.
  bool MatchBuckets(const Prepared* prep, const Descriptor& d,
                    size_t rule_count, int64_t cost, int64_t now,
                    bool* admitted);
  // Takes (all or nothing), counts refused demand and decisions, and
  // queues lease requests.
  void Settle(bool admitted, int64_t cost, int64_t now,
              const CheckOptions& options);
  // The reply: the most restrictive enforce rule of matched_.
  void Report(bool admitted, Decision* out) const;

  // The context a bucket is decided in: ctx_, or owner_away_ctx_ when its
  // owner is away (SetOwners).
  const LeaseContext* ContextFor(std::string_view key) const;
  // False when the bucket's owner is away (SetOwners).
  bool OwnerReachable(BucketTable::Handle h) const;

  void CollectLease(const Rule& rule, BucketTable::Handle h, int64_t now);
  // Appends a want for the bucket at `h` if it NeedsLease (NeedsSweepLease
  // with the timing `sweep` when not null); true if so.
  bool AddWant(const Rule& rule, BucketTable::Handle h, int64_t now,
               const LeaseTiming* sweep, std::vector<LeaseWant>* out);
  // Marks a moot report as sent and appends it to `unsent` (if given).
  void TakeMootReport(BucketTable::Handle h, int64_t now,
                      std::vector<LeaseWant>* unsent);
  void ClearPending();
  size_t RuleSlot(const Rule* rule) const {
    return static_cast<size_t>(rule - index_->rules().data());
  }

  BucketTable table_;
  LeaseTiming timing_;
  LeaseContext ctx_;
  LeaseContext owner_away_ctx_{false, 1};  // ctx_ with its owner away
  std::shared_ptr<const OwnerMap> owners_;
  bool owners_mixed_ = false;  // some owners reachable, some not
  std::shared_ptr<const RuleIndex> index_;
  std::vector<RuleDecisionCounts> counts_;
  std::vector<BucketTable::Handle> pending_;
  size_t sweep_cursor_ = 0;
  // Scratch, reused by every check.
  std::vector<const Rule*> rules_scratch_;
  std::vector<Matched> matched_;
  std::string key_scratch_;
  // Prepared checks of the current batch (see Prepare).
  std::vector<Prepared> prepared_;
  size_t next_prepared_ = 0;
  std::vector<const Rule*> prep_rules_;
  std::vector<KeySpan> prep_keys_;
  std::string prep_key_bytes_;
  std::vector<uint64_t> prep_hashes_;
};

}  // namespace sluice
