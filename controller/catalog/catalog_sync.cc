#include "controller/catalog/catalog_sync.h"

#include <utility>

#include "platform/log.h"

namespace sluice {

Status CatalogSync::Reload() {
  StatusOr<RuleStore::Listing> listing = store_->List();
  if (!listing.ok()) return listing.status();
  stale_.store(false);
  catalog_->Replace(listing->revision, std::move(listing->rules));
  UpdateGauge();
  return Status::Ok();
}

Status CatalogSync::CatchUp() {
  if (stale_.load()) return Reload();
  StatusOr<int64_t> revision = store_->Revision();
  if (!revision.ok()) return revision.status();
  if (*revision == catalog_->version()) return Status::Ok();
  return Reload();
}

bool CatalogSync::InOrder(int64_t revision) {
  int64_t current = catalog_->version();
  if (revision <= current) return false;  // a reload already has it
  if (revision == current + 1) return true;
  Status reloaded = Reload();
  if (reloaded.ok()) return false;
  // Better the change now and the gap later than neither.
  LogWarn("catalog",
          "could not reload the rules after an out-of-order "
          "change (" +
              reloaded.ToString() + "); applying it alone and reloading later");
  stale_.store(true);
  return true;
}

void CatalogSync::Upserted(int64_t revision, const Rule& rule) {
  if (!InOrder(revision)) return;
  catalog_->Upsert(revision, rule);
  UpdateGauge();
}

void CatalogSync::Removed(int64_t revision, int64_t rule_id) {
  if (!InOrder(revision)) return;
  catalog_->Remove(revision, rule_id);
  UpdateGauge();
}

void CatalogSync::Replaced(int64_t revision, std::vector<Rule> rules) {
  // A complete rule set is right whatever came before it.
  catalog_->Replace(revision, std::move(rules));
  UpdateGauge();
}

void CatalogSync::UpdateGauge() {
  if (on_published_) on_published_(catalog_->Get().rules.size());
}

}  // namespace sluice
