// LeaseLedger: the lease server's decisions, apart from its socket. It owns
// the agents (AgentRegistry), the rule set agents were last told about, and
// one budget per bucket (a BucketAllocator, common/allocator.h, kept in a
// BudgetTable), and says what to answer; the server (lease_server.h)
// receives, decodes, authorises, calls it, encodes and sends.
//
// Its contract, message by message (the protocol is common/wire.h):
//   - Hello: protocol kProtocolVersion only; the agent is known from then
//     on, with its agent id and weight (by agent id in `agent_weights`, 1 if
//     not listed). Any other message marks its sender seen and registers it
//     if unknown (Arrival::kNew: the server sends it a RulesSnapshot first).
//   - LeaseRequest: one grant item per item, in order, values moved from
//     the request. Unknown or disabled rule, or wildcard values that do not
//     fit the rule: 0 tokens. Else the bucket's budget (created on first
//     use, reconfigured when its rule's version changed) accounts the
//     report and grants for lease_ttl_ms. An item that wants 0 tokens is a
//     report (a bucket the agent decides locally, common/local_bucket.h):
//     accounted the same way (or not at all, like any item of an unknown
//     rule or of a bucket this controller does not own), and answered with
//     no item at all, whatever became of it.
//   - Learning period, for learning_ms from construction (restart safety,
//     docs/leasing.md): budgets created then start empty and drop refill
//     nobody has a claim on until it ends; an item that gets no tokens for
//     an agent that refused nothing gets no lease at all (ttl 0), so the
//     agent keeps its old lease or its safe share.
//   - Several controllers (docs/high-availability.md; the policy is
//     ClusterView, controller/cluster/cluster_view.h, fed by
//     OnClusterHeartbeat): while fenced, every item gets no lease (tokens
//     0, ttl 0); an item of a bucket another member owns gets no lease and
//     the request is marked (answered_unowned(): the server then sends the
//     agent its Controllers); an item of a held bucket (gained in a recent
//     adoption) gets no lease, its report is accounted, and a budget
//     created during the hold starts empty and drops unclaimed refill until
//     the hold ends (as in learning). Adopting a set drops the budgets of
//     buckets no longer owned; starting over drops every budget. Heartbeats
//     carry the set's version. With no set adopted (version 0) this
//     controller owns everything, as a single controller always has.
//   - Catalog change: returns the RulesDelta from the last version agents
//     were told about; budgets of rules removed or disabled are dropped,
//     those of changed rules reconfigured (new burst and rate).
//   - Forgetting an agent (silent past agent_timeout_ms at a Tick, its
//     connection closed, its key revoked): its demand and share in every
//     budget are dropped; its leases lapse at their expiry.
//   - Sweep: budgets are visited a slice at a time (1/50 of the table every
//     20 ms, so all of it about once a second, in pieces too small to hold
//     up requests queued behind them). A bucket agent silent for
//     max(5 s, 2 × ttl) with nothing outstanding there is dropped from it;
//     a budget left idle (no agent, nothing leased, full) is dropped.
//
// Counts for metrics (counts()): totals of requests and tokens granted,
// agents known now, and budgets and (budget, agent) pairs as of the last
// sweep pass or forget (counting them on every request would cost a walk
// of the table).
//
// A lease request allocates nothing but its grant's items (and what a new
// budget, or a new agent in a budget, needs): bucket keys are built in
// reused buffers, and the budgets of all its items are prefetched before
// any is used (budget_table.h). A message that reports anything else per
// bucket (usage counts, say) would find its budgets the same way
// (ResolveItem, then PrefetchBudgets).
//
// Pure: no clock reads (every `now` is an argument, monotonic nanoseconds),
// no I/O, no exceptions. Thread-compatible: the lease thread owns it. Not
// movable (the budgets point to its options).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/allocator.h"
#include "common/rule.h"
#include "common/status.h"
#include "common/wire.h"
#include "controller/cluster/cluster_view.h"
#include "controller/lease/agent_registry.h"
#include "controller/lease/budget_table.h"

namespace sluice {

struct LeaseLedgerOptions {
  int64_t lease_ttl_ms = 2000;      // how long a grant is valid
  int64_t agent_timeout_ms = 5000;  // silent this long: agent forgotten
  int64_t learning_ms = 0;          // learning period from construction
  // Weights of agents (by the agent_id of their Hello) in the max-min
  // division of every bucket; agents not listed weigh 1.
  std::map<std::string, double> agent_weights;
  // This controller's member id and endpoint ("" = takes part in no set:
  // owns everything), and the timings of the cluster policy.
  std::string member_id;
  std::string member_endpoint;
  ClusterTimings cluster_timings;
};

// For metrics: totals since construction, and sizes.
struct LedgerCounts {
  int64_t lease_requests = 0;  // LeaseRequests answered
  int64_t lease_reports = 0;   // their items that wanted 0 tokens
  int64_t tokens_granted = 0;  // tokens in their grants
  int64_t agents = 0;          // agents known now
  int64_t buckets = 0;         // budgets, as of the last pass or forget
  int64_t bucket_agents = 0;   // (budget, agent) pairs, likewise
};

// Whether a message came from an agent the ledger did not know.
enum class Arrival { kKnown, kNew };

struct ForgottenAgent {
  std::string peer;
  std::string agent_id;  // from its Hello; may be empty
};

// What a Tick did.
struct TickOutcome {
  // Agents silent for more than agent_timeout_ms, now forgotten.
  std::vector<ForgottenAgent> forgotten;
  // The number of agents changed since the previous Tick (by any call):
  // every agent should be told (HeartbeatReply()) at once, since their
  // safe shares depend on it.
  bool agent_count_changed = false;
};

class LeaseLedger {
 public:
  // Starts at `now` (the learning period runs from here) with the rule
  // set `rules` at `rules_version`, no agents and no budgets.
  LeaseLedger(LeaseLedgerOptions options, int64_t now, int64_t rules_version,
              std::vector<Rule> rules);
  LeaseLedger(const LeaseLedger&) = delete;
  LeaseLedger& operator=(const LeaseLedger&) = delete;

  // --- Agents. `curve_key`: the key the message was authenticated with
  // ("" without CURVE), kept for the agent (agents()).

  // A Hello: InvalidArgument (naming the protocol spoken here) for another
  // protocol, with nothing registered; else the agent is marked seen (or
  // registered) with its agent id and weight. Answer: Snapshot().
  StatusOr<Arrival> OnHello(const std::string& peer, const Hello& hello,
                            int64_t now, std::string_view curve_key);
  // Any other message from an agent: marks it seen, registering it if
  // unknown (kNew: send it Snapshot() before anything else).
  Arrival OnMessageFrom(const std::string& peer, int64_t now,
                        std::string_view curve_key);
  // Forgets `peer` (see the header); false if it was unknown. Fills
  // *agent_id (may be null) with its Hello's agent id.
  bool Forget(const std::string& peer, int64_t now, std::string* agent_id);

  // --- Leases.

  // Fills *grant with the answer to `request` from `peer` (its items'
  // values are moved into the grant). False, with *grant untouched, when
  // `peer` is not known (call OnMessageFrom first): nothing to send.
  bool OnLeaseRequest(const std::string& peer, LeaseRequest& request,
                      int64_t now, LeaseGrant* grant);

  // --- Rules.

  // The catalog moved to `version` with `rules` (every rule, by any
  // order): returns the delta for every agent (from rules_version()), and
  // drops or reconfigures budgets accordingly.
  RulesDelta OnCatalogChange(int64_t version, std::vector<Rule> rules,
                             int64_t now);
  int64_t rules_version() const { return rules_version_; }
  // Every rule (enabled or not) and the number of agents.
  RulesSnapshot Snapshot() const;
  // The answer to a Heartbeat, and what every agent is told when the
  // number of agents changes.
  Heartbeat HeartbeatReply() const;

  // --- Several controllers.

  // A heartbeat round that started at `started` succeeded with `stored`
  // in force (`at_join`: the set stored before this controller joined).
  // Drops budgets this controller no longer owns (every one when it starts
  // over). Adoption::set_changed: tell every agent Controllers().
  Adoption OnClusterHeartbeat(int64_t started, const ControllerSet& stored,
                              const ControllerSet& at_join, int64_t now);
  const ClusterView& cluster() const { return cluster_; }
  // The set in force and our id, for agents.
  Controllers ControllersMessage() const;
  // Whether the last OnLeaseRequest answered an item of a bucket another
  // member owns.
  bool answered_unowned() const { return answered_unowned_; }
  // Adoptions of a new set since construction.
  int64_t ownership_changes() const { return ownership_changes_; }

  // --- Time.

  // Sweeps the slices of budgets due at `now` (one per 20 ms gone by since
  // the last sweep, at most a whole pass). Cheap when none is due: call it
  // after every message, so that a flow of them does not hold it up.
  void SweepIfDue(int64_t now);
  // Forgets agents silent past the timeout, then sweeps if due.
  TickOutcome Tick(int64_t now);

  // --- Observers.

  bool learning(int64_t now) const { return now < learning_until_; }
  const LedgerCounts& counts() const { return counts_; }
  const AgentRegistry& agents() const { return agents_; }
  // Appends the routing id of every known agent.
  void AppendPeers(std::vector<std::string>* out) const;
  // Budgets now (counts().buckets is as of the last pass or forget).
  size_t budget_count() const { return budgets_.size(); }
  // The budget of one bucket, or nullptr.
  Budget* FindBudget(int64_t rule_id, const std::vector<std::string>& values);

 private:
  // Lookups of a message's items, in two passes so that the memory loads
  // of all their budgets are under way together: ResolveItem(i, ...) for
  // every item (its rule, or nullptr: nothing to do; its bucket key and
  // hash in the scratch; the prefetch of its slot), then PrefetchBudgets.
  void PrepareScratch(size_t n);
  void ResolveItem(size_t i, int64_t rule_id,
                   const std::vector<std::string>& values);
  void PrefetchBudgets(size_t n) const;
  // The budget of item `i` (resolved), created if absent, up to date with
  // its rule. `held`: its bucket is held (cluster_view.h): a new budget
  // starts as in learning, until the hold ends.
  Budget& BudgetOfItem(size_t i, int64_t now, bool held = false);
  // Grants item `i` to `agent` into *out; returns the tokens.
  int64_t GrantItem(size_t i, const AgentRecord& agent, const LeaseWant& want,
                    int64_t now, LeaseGrantItem* out);
  // What `agent` reports with the line `want`, for its bucket's allocator.
  static LeaseReport ReportOf(const LeaseWant& want, const AgentRecord& agent);
  void ReconcileBudgets(int64_t now);
  // Visits `slices` slices of the budgets.
  void SweepBudgets(int64_t now, size_t slices);
  // Counts budgets and pairs now (all of them); the pass under way is not
  // published at its end.
  void CountBudgets();
  void AgentCountChanged();
  // How the cluster policy treats item `i` (resolved) at `now`: true when
  // it was answered here (no lease), false when it is to be granted.
  bool GateItem(size_t i, const AgentRecord& agent, const LeaseWant& want,
                int64_t now, LeaseGrantItem* out);
  // Drops the budgets of buckets another member owns (all: every one).
  void DropBudgetsNotOwned(bool all, int64_t now);

  const LeaseLedgerOptions options_;
  AllocatorOptions allocator_options_;  // the budgets point to it
  // Those of budgets made during a hold: refill nobody claims is dropped
  // until the latest hold ends (later holds extend it for them too: they
  // only pool less).
  AllocatorOptions held_allocator_options_;
  const int64_t learning_until_;

  int64_t rules_version_;          // what agents were last told
  std::map<int64_t, Rule> rules_;  // by id, as of rules_version_
  AgentRegistry agents_;
  BudgetTable budgets_;  // by bucket key
  LedgerCounts counts_;
  bool agent_count_changed_ = false;  // since the last Tick
  ClusterView cluster_;
  bool answered_unowned_ = false;
  int64_t ownership_changes_ = 0;

  // The sweep: when the next slice is due, the next position of budgets_
  // to visit, and the (budget, agent) pairs the current pass counted.
  int64_t next_sweep_;
  size_t sweep_cursor_ = 0;
  int64_t pass_pairs_ = 0;
  bool pass_counts_valid_ = true;  // false after a full count mid-pass

  // ResolveItem's scratch, one per item of the request: the rule (nullptr:
  // nothing to grant), the bucket key and its hash.
  std::vector<const Rule*> item_rules_;
  std::vector<std::string> item_keys_;
  std::vector<uint64_t> item_hashes_;
};

}  // namespace sluice
