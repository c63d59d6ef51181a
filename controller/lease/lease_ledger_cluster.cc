// LeaseLedger's part in several controllers (lease_ledger.h, "Several
// controllers"): the gate of each item, and what an adoption drops.
#include <algorithm>
#include <utility>

#include "controller/lease/lease_ledger.h"

namespace sluice {

Adoption LeaseLedger::OnClusterHeartbeat(int64_t started,
                                         const ControllerSet& stored,
                                         const ControllerSet& at_join,
                                         int64_t now) {
  const Adoption adoption = cluster_.OnHeartbeat(started, now, stored, at_join,
                                                 options_.member_endpoint);
  if (adoption.set_changed) ++ownership_changes_;
  if (cluster_.holding(now)) {
    held_allocator_options_.drop_unclaimed_until_ns = std::max(
        allocator_options_.drop_unclaimed_until_ns, cluster_.hold_until());
  }
  if (adoption.start_over) {
    DropBudgetsNotOwned(/*all=*/true, now);
  } else if (adoption.set_changed && cluster_.shared()) {
    DropBudgetsNotOwned(/*all=*/false, now);
  }
  return adoption;
}

void LeaseLedger::DropBudgetsNotOwned(bool all, int64_t now) {
  for (size_t i = 0; i < budgets_.capacity();) {
    if (budgets_.At(i) == nullptr) {
      ++i;
      continue;
    }
    const bool drop = all || cluster_.StateOf(StableHash(budgets_.KeyAt(i)),
                                              now) == BucketState::kNotOwned;
    if (drop) {
      budgets_.EraseAt(i);  // a later budget may now be at i
    } else {
      ++i;
    }
  }
  CountBudgets();
}

bool LeaseLedger::GateItem(size_t i, const AgentRecord& agent,
                           const LeaseWant& want, int64_t now,
                           LeaseGrantItem* out) {
  if (!cluster_.shared() && !cluster_.holding(now)) return false;
  if (cluster_.fenced(now)) {
    out->tokens = 0;
    out->ttl_ms = 0;
    return true;
  }
  const BucketState state = cluster_.StateOf(StableHash(item_keys_[i]), now);
  if (state == BucketState::kOwned) return false;
  out->tokens = 0;
  out->ttl_ms = 0;
  if (state == BucketState::kNotOwned) {
    answered_unowned_ = true;
    return true;
  }
  // Held: learn the agent's demand, grant nothing. What it admitted
  // without a lease is not charged: since the adoption the budget grants
  // nothing and drops its unclaimed refill, so those admissions (the
  // agents' safe shares, at most the rate together) took tokens nobody
  // else can grant; before the adoption, the bucket was not ours and the
  // budget starts empty. Charged, they became a debt that starved the
  // bucket for up to a second after the hold.
  Budget& budget = BudgetOfItem(i, now, /*held=*/true);
  LeaseReport report = ReportOf(want, agent);
  report.unleased = 0;
  budget.allocator.Report(agent.number, now, report);
  return true;
}

Controllers LeaseLedger::ControllersMessage() const {
  Controllers message;
  message.set = cluster_.ownership().set();
  message.self_id = options_.member_id;
  return message;
}

}  // namespace sluice
