// Test helpers for controller code that crosses PostgreSQL: a fresh database
// with the real migrations applied, and a valid rule to store.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/rule.h"
#include "controller/store/database.h"
#include "controller/store/migrator.h"
#include "tests/support/test_database.h"

namespace sluice::testing {

// The repository's migrations/ folder.
inline std::string SourceMigrationsDir() {
  return std::string(SLUICE_SOURCE_DIR) + "/migrations";
}

// A fresh database (see TestDatabase) and a Database on it, migrated.
class MigratedDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test_db_ = std::make_unique<TestDatabase>();
    db_ = std::make_unique<Database>(test_db_->conninfo());
    StatusOr<Migrator> migrator =
        Migrator::FromDirectory(SourceMigrationsDir());
    ASSERT_TRUE(migrator.ok()) << migrator.status().ToString();
    StatusOr<int> applied = migrator->Apply(db_.get());
    ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  }

  std::unique_ptr<TestDatabase> test_db_;
  std::unique_ptr<Database> db_;
};

// A valid rule named `name`.
inline Rule ValidRule(const std::string& name) {
  Rule rule;
  rule.name = name;
  rule.domain = "api";
  rule.match = {{"client_id", "*"}, {"route", "/search"}};
  rule.limit = 100;
  rule.period_ms = 1000;
  rule.burst = 200;
  rule.mode = RuleMode::kEnforce;
  rule.failure_mode = FailureMode::kLocal;
  rule.enabled = true;
  return rule;
}

}  // namespace sluice::testing
