// GlobalBudget: the controller's view of one bucket's global budget: `burst`
// tokens of capacity refilled at limit/period, shared by every agent.
//
// The simplest correct leasing (issue 2): each LeaseWant takes up to `want`
// whole tokens that exist now; what agents admitted without a lease is
// charged first (the budget may go into debt, down to -burst). Tokens handed
// out are gone from the budget, so nothing is granted twice; unused granted
// tokens die at the agent when the lease expires.
//
// Thread-compatible: the lease server's thread owns its budgets.
#pragma once

#include <cstdint>

#include "common/rule.h"
#include "common/token_bucket.h"

namespace sluice {

class GlobalBudget {
 public:
  GlobalBudget(const Rule& rule, int64_t now);

  // Charges `unleased` tokens, then grants up to `want` whole tokens.
  int64_t Grant(int64_t now, int64_t want, int64_t unleased);

  // Adopts a changed rule (capacity and rate), keeping current tokens
  // clamped to the new burst.
  void Reconfigure(const Rule& rule, int64_t now);

  double Available(int64_t now) { return bucket_.Available(now); }
  // The latest `now` passed to Grant (or the construction time): lets the
  // owner drop budgets nobody asked for in a long time.
  int64_t last_used() const { return last_used_; }

 private:
  TokenBucket bucket_;
  int64_t last_used_;
};

}  // namespace sluice
