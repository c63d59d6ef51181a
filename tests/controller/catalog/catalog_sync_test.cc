// CatalogSync against a real PostgreSQL (SLUICE_TEST_DB).
#include "controller/catalog/catalog_sync.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/controller/db_fixture.h"

namespace sluice {
namespace {

using testing::ValidRule;

class CatalogSyncTest : public testing::MigratedDatabaseTest {
 protected:
  void SetUp() override {
    MigratedDatabaseTest::SetUp();
    store_ = std::make_unique<RuleStore>(db_.get());
    sync_ = std::make_unique<CatalogSync>(
        store_.get(), &catalog_,
        [this](size_t rules) { published_ = static_cast<int>(rules); });
  }
  Rule Stored(const std::string& name) {
    StatusOr<RuleStore::Change> change = store_->Create(ValidRule(name));
    EXPECT_TRUE(change.ok()) << change.status().ToString();
    last_revision_ = change.ok() ? change->revision : 0;
    return change.ok() ? change->rule : Rule();
  }
  std::unique_ptr<RuleStore> store_;
  RuleCatalog catalog_;
  int published_ = -1;  // the rule count last published
  std::unique_ptr<CatalogSync> sync_;
  int64_t last_revision_ = 0;
};

TEST_F(CatalogSyncTest, ReloadLoadsEveryRuleAndTheRevision) {
  Stored("a");
  Stored("b");
  ASSERT_TRUE(sync_->Reload().ok());
  RuleCatalog::Snapshot snapshot = catalog_.Get();
  EXPECT_EQ(snapshot.version, last_revision_);
  ASSERT_EQ(snapshot.rules.size(), 2u);
  EXPECT_EQ(snapshot.rules[0].name, "a");
  EXPECT_EQ(published_, 2);
}

TEST_F(CatalogSyncTest, InOrderChangesApplyAndAGapReloads) {
  ASSERT_TRUE(sync_->Reload().ok());
  Rule a = Stored("a");
  sync_->Upserted(last_revision_, a);
  EXPECT_EQ(catalog_.version(), last_revision_);
  EXPECT_EQ(catalog_.Get().rules.size(), 1u);

  // "b" is committed by someone who does not report it; "c" is reported.
  Stored("b");
  Rule c = Stored("c");
  sync_->Upserted(last_revision_, c);
  RuleCatalog::Snapshot snapshot = catalog_.Get();
  EXPECT_EQ(snapshot.version, last_revision_);
  ASSERT_EQ(snapshot.rules.size(), 3u);
  EXPECT_EQ(snapshot.rules[1].name, "b");
  EXPECT_EQ(published_, 3);

  // A late report of an older change is ignored.
  Rule stale = a;
  stale.limit = 1;
  sync_->Upserted(last_revision_ - 1, stale);
  EXPECT_EQ(catalog_.Get().rules[0].limit, a.limit);

  StatusOr<int64_t> revision = store_->Delete(c.id);
  ASSERT_TRUE(revision.ok());
  sync_->Removed(*revision, c.id);
  EXPECT_EQ(catalog_.Get().rules.size(), 2u);
  EXPECT_EQ(catalog_.version(), *revision);
  EXPECT_EQ(published_, 2);
}

TEST_F(CatalogSyncTest, CatchUpReloadsOnlyWhenTheDatabaseIsAhead) {
  ASSERT_TRUE(sync_->CatchUp().ok());
  EXPECT_EQ(catalog_.version(), 1);  // the revision of an empty rule set
  Stored("a");
  EXPECT_TRUE(catalog_.Get().rules.empty());
  ASSERT_TRUE(sync_->CatchUp().ok());
  EXPECT_EQ(catalog_.Get().rules.size(), 1u);
  EXPECT_EQ(catalog_.version(), last_revision_);
  ASSERT_TRUE(sync_->CatchUp().ok());
  EXPECT_EQ(catalog_.version(), last_revision_);
}

}  // namespace
}  // namespace sluice
