#include "common/global_budget.h"

#include <algorithm>

namespace sluice {

GlobalBudget::GlobalBudget(const Rule& rule, int64_t now)
    : bucket_(static_cast<double>(rule.burst), rule.RatePerNano(), now),
      last_used_(now) {}

int64_t GlobalBudget::Grant(int64_t now, int64_t want, int64_t unleased) {
  last_used_ = std::max(last_used_, now);
  if (unleased > 0) bucket_.Debit(now, static_cast<double>(unleased));
  if (want <= 0) return 0;
  return static_cast<int64_t>(bucket_.TakeUpTo(now, static_cast<double>(want)));
}

void GlobalBudget::Reconfigure(const Rule& rule, int64_t now) {
  bucket_.Reconfigure(static_cast<double>(rule.burst), rule.RatePerNano(), now);
}

}  // namespace sluice
