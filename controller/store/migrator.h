// Migrator: applies the numbered SQL files of migrations/ to the database.
//
// A migration is a file NNNN_name.sql (a version of at least four digits,
// then a name of [A-Za-z0-9_]); versions are unique. Apply() runs every
// migration the database has not recorded, in version order, each in its
// own transaction together with its row in schema_migrations(version, name,
// applied_at), so a failing file leaves nothing behind. Files must not
// contain BEGIN/COMMIT.
//
// Concurrent controllers starting against one database are serialised by a
// transaction-scoped advisory lock, so no migration is applied twice.
//
// A database that records a version newer than the newest file known here
// was migrated by a newer controller: Apply() refuses (FailedPrecondition)
// and changes nothing.
//
// Thread-compatible (Apply() takes the Database's lock while it runs).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "controller/store/database.h"

namespace sluice {

struct Migration {
  int64_t version = 0;
  std::string name;  // "init" for 0001_init.sql
  std::string path;
  std::string sql;
};

class Migrator {
 public:
  // Reads every *.sql file of `dir`. Refuses a missing or empty directory,
  // a .sql file not named NNNN_name.sql, and two files with one version.
  static StatusOr<Migrator> FromDirectory(const std::string& dir);
  // Migrations in any order.
  explicit Migrator(std::vector<Migration> migrations = {});

  // Applies the pending migrations; returns how many were applied (0 when
  // the schema is current). Unavailable when the database is down.
  StatusOr<int> Apply(Database* db) const;

  // 0 when there are no migrations.
  int64_t latest_version() const;
  const std::vector<Migration>& migrations() const { return migrations_; }

 private:
  std::vector<Migration> migrations_;  // sorted by version
  std::string source_;                 // the directory, for messages
};

// Where the migrations are when --migrations is not given.
//
// An installed controller (<prefix>/bin/sluice-controller) takes
// <prefix>/share/sluice/migrations, the directory `cmake --install` and the
// packages fill. A controller run from its build tree takes the source
// tree's migrations/. Any other executable gets "" (a copied or relocated
// binary never falls back to a source tree that may have moved on).
//
// `exe` is the executable's path, `build_dir` the CMake build tree it was
// built in, `source_migrations` the source tree's migrations/.
std::string MigrationsDirFor(const std::string& exe,
                             const std::string& build_dir,
                             const std::string& source_migrations);
// MigrationsDirFor(/proc/self/exe, the build tree and source tree compiled
// in).
std::string DefaultMigrationsDir();

// "0007" for 7.
std::string FormatMigrationVersion(int64_t version);

}  // namespace sluice
