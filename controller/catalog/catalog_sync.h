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
#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "common/rule.h"
#include "common/status.h"
#include "controller/catalog/rule_catalog.h"
#include "controller/store/rule_store.h"

namespace sluice {

class CatalogSync {
 public:
  // Called with the number of rules after each change to the catalog (for
  // a gauge); may be empty. Called with the sync's lock held: keep it short.
  using OnPublished = std::function<void(size_t rules)>;

  // Both must outlive this.
  CatalogSync(RuleStore* store, RuleCatalog* catalog,
              OnPublished on_published = nullptr)
      : store_(store),
        catalog_(catalog),
        on_published_(std::move(on_published)) {}

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
  const OnPublished on_published_;
  // A change was applied out of order because a reload failed: reload at
  // the next CatchUp() whatever the revisions say.
  std::atomic<bool> stale_{false};
};

}  // namespace sluice
