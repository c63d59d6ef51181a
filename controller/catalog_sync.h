// CatalogSync: keeps the RuleCatalog (what agents see) in step with the
// rules table (the truth).
//
// After a change it committed, a caller reports it with Upserted/Removed and
// its revision; when that revision directly follows the catalog's, the
// change is applied as it is, otherwise (another controller changed rules in
// between) the whole catalog is reloaded. CatchUp(), called periodically,
// reloads when the database's revision is ahead of the catalog, which also
// picks up changes made by other controllers and anything missed while
// PostgreSQL was down.
//
// Thread-safe. Callers that commit changes must report them in commit order
// (hold one lock across commit and report), so the catalog never skips one.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "common/rule.h"
#include "common/status.h"
#include "controller/controller_metrics.h"
#include "controller/rule_catalog.h"
#include "controller/rule_store.h"

namespace sluice {

class CatalogSync {
 public:
  // All must outlive this; `metrics` may be null.
  CatalogSync(RuleStore* store, RuleCatalog* catalog,
              ControllerMetrics* metrics)
      : store_(store), catalog_(catalog), metrics_(metrics) {}

  // Loads every rule and the revision from the database.
  Status Reload();
  // Reload() when the database is ahead of the catalog (or a report could
  // not be applied in order). OK when nothing was needed.
  Status CatchUp();

  void Upserted(int64_t revision, const Rule& rule);
  void Removed(int64_t revision, int64_t rule_id);
  // The whole committed rule set at `revision` (a config replacement);
  // ignored when the catalog is already newer.
  void Replaced(int64_t revision, std::vector<Rule> rules);

 private:
  // True when `revision` follows the catalog directly; otherwise reloads,
  // and returns false.
  bool InOrder(int64_t revision);
  void UpdateGauge();

  RuleStore* const store_;
  RuleCatalog* const catalog_;
  ControllerMetrics* const metrics_;
  // A change was applied out of order because a reload failed: reload at
  // the next CatchUp() whatever the revisions say.
  std::atomic<bool> stale_{false};
};

}  // namespace sluice
