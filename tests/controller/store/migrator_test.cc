// Migrator against a real PostgreSQL (SLUICE_TEST_DB).
#include "controller/store/migrator.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <string>
#include <thread>

#include "controller/store/database.h"
#include "tests/controller/db_fixture.h"
#include "tests/support/free_port.h"
#include "tests/support/test_database.h"

namespace sluice {
namespace {

using testing::SourceMigrationsDir;
using testing::TestDatabase;

// A temporary directory of migration files, removed at the end.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/sluice-migrations-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  void Write(const std::string& file, const std::string& text) {
    std::ofstream(path_ + "/" + file) << text;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

int64_t QueryInt(const std::string& conninfo, const std::string& sql) {
  pqxx::connection conn(conninfo);
  pqxx::nontransaction tx(conn);
  return tx.exec1(sql)[0].as<int64_t>();
}

void Exec(const std::string& conninfo, const std::string& sql) {
  pqxx::connection conn(conninfo);
  pqxx::nontransaction tx(conn);
  tx.exec(sql);
}

bool TableExists(const std::string& conninfo, const std::string& table) {
  return QueryInt(conninfo,
                  "SELECT count(*) FROM pg_tables WHERE "
                  "schemaname = 'public' AND tablename = '" +
                      table + "'") == 1;
}

StatusOr<Migrator> Load(const std::string& dir) {
  return Migrator::FromDirectory(dir);
}

TEST(MigratorTest, AppliesEveryMigrationOnceAndRecordsIt) {
  TestDatabase test_db;
  Database db(test_db.conninfo());
  StatusOr<Migrator> migrator = Load(SourceMigrationsDir());
  ASSERT_TRUE(migrator.ok()) << migrator.status().ToString();
  const int count = static_cast<int>(migrator->migrations().size());
  ASSERT_GE(count, 1);

  StatusOr<int> first = migrator->Apply(&db);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, count);
  EXPECT_EQ(
      QueryInt(test_db.conninfo(), "SELECT count(*) FROM schema_migrations"),
      count);
  EXPECT_EQ(QueryInt(test_db.conninfo(),
                     "SELECT max(version) FROM schema_migrations"),
            migrator->latest_version());
  EXPECT_TRUE(TableExists(test_db.conninfo(), "rules"));
  EXPECT_TRUE(TableExists(test_db.conninfo(), "api_tokens"));
  EXPECT_EQ(QueryInt(test_db.conninfo(), "SELECT revision FROM rules_state"),
            1);

  // Idempotent: a second run applies nothing and records nothing new.
  StatusOr<int> second = migrator->Apply(&db);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(*second, 0);
  EXPECT_EQ(
      QueryInt(test_db.conninfo(), "SELECT count(*) FROM schema_migrations"),
      count);
}

TEST(MigratorTest, RefusesASchemaNewerThanItKnows) {
  TestDatabase test_db;
  Database db(test_db.conninfo());
  StatusOr<Migrator> migrator = Load(SourceMigrationsDir());
  ASSERT_TRUE(migrator.ok());
  ASSERT_TRUE(migrator->Apply(&db).ok());
  Exec(test_db.conninfo(),
       "INSERT INTO schema_migrations (version, name) VALUES (9999, 'future')");

  StatusOr<int> refused = migrator->Apply(&db);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Status::Code::kFailedPrecondition);
  const std::string& message = refused.status().message();
  EXPECT_NE(message.find("9999"), std::string::npos) << message;
  EXPECT_NE(message.find(FormatMigrationVersion(migrator->latest_version())),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("Upgrade"), std::string::npos) << message;
}

TEST(MigratorTest, RefusesNewerSchemaBeforeApplyingAnything) {
  TestDatabase test_db;
  Database db(test_db.conninfo());
  TempDir dir;
  dir.Write("0001_one.sql", "CREATE TABLE one_t (x int);");
  dir.Write("0002_two.sql", "CREATE TABLE two_t (x int);");
  StatusOr<Migrator> migrator = Load(dir.path());
  ASSERT_TRUE(migrator.ok());
  Exec(test_db.conninfo(),
       "CREATE TABLE schema_migrations (version bigint PRIMARY KEY, name text "
       "NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());"
       "INSERT INTO schema_migrations (version, name) VALUES (1, 'one'), "
       "(3, 'three')");
  StatusOr<int> refused = migrator->Apply(&db);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_FALSE(TableExists(test_db.conninfo(), "two_t"));
}

TEST(MigratorTest, AppliesInVersionOrder) {
  TestDatabase test_db;
  Database db(test_db.conninfo());
  TempDir dir;
  // Written in reverse; 0002 needs 0001's table, and 0010 sorts after 0002
  // only numerically if versions are compared as numbers.
  dir.Write("0010_c.sql", "ALTER TABLE b_t ADD COLUMN c int;");
  dir.Write("0002_b.sql", "CREATE TABLE b_t (a_id int REFERENCES a_t (id));");
  dir.Write("0001_a.sql", "CREATE TABLE a_t (id int PRIMARY KEY);");
  dir.Write("README.md", "not a migration");
  StatusOr<Migrator> migrator = Load(dir.path());
  ASSERT_TRUE(migrator.ok()) << migrator.status().ToString();
  EXPECT_EQ(migrator->latest_version(), 10);
  StatusOr<int> applied = migrator->Apply(&db);
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ(*applied, 3);
  EXPECT_EQ(QueryInt(test_db.conninfo(),
                     "SELECT count(*) FROM schema_migrations WHERE "
                     "(version, name) IN ((1, 'a'), (2, 'b'), (10, 'c'))"),
            3);
}

TEST(MigratorTest, AFailingMigrationLeavesNothingBehind) {
  TestDatabase test_db;
  Database db(test_db.conninfo());
  TempDir dir;
  dir.Write("0001_ok.sql", "CREATE TABLE ok_t (x int);");
  dir.Write("0002_bad.sql",
            "CREATE TABLE half_t (x int); SELECT no_such_column FROM ok_t;");
  StatusOr<Migrator> bad = Load(dir.path());
  ASSERT_TRUE(bad.ok());
  StatusOr<int> failed = bad->Apply(&db);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), Status::Code::kInternal);
  EXPECT_NE(failed.status().message().find("0002_bad.sql"), std::string::npos)
      << failed.status().message();
  EXPECT_TRUE(TableExists(test_db.conninfo(), "ok_t"));
  EXPECT_FALSE(TableExists(test_db.conninfo(), "half_t"));
  EXPECT_EQ(
      QueryInt(test_db.conninfo(), "SELECT count(*) FROM schema_migrations"),
      1);

  // Fixed, it applies the rest and only the rest.
  dir.Write("0002_bad.sql", "CREATE TABLE half_t (x int);");
  StatusOr<Migrator> fixed = Load(dir.path());
  ASSERT_TRUE(fixed.ok());
  StatusOr<int> applied = fixed->Apply(&db);
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ(*applied, 1);
  EXPECT_TRUE(TableExists(test_db.conninfo(), "half_t"));
}

TEST(MigratorTest, ConcurrentMigratorsApplyEachMigrationOnce) {
  TestDatabase test_db;
  TempDir dir;
  // Without IF NOT EXISTS: applying either twice fails.
  dir.Write("0001_slow.sql",
            "CREATE TABLE slow_t (x int); SELECT pg_sleep(0.2);");
  dir.Write("0002_next.sql", "CREATE TABLE next_t (x int);");
  StatusOr<Migrator> migrator = Load(dir.path());
  ASSERT_TRUE(migrator.ok());
  Database db_a(test_db.conninfo());
  Database db_b(test_db.conninfo());
  StatusOr<int> result_a = Status::Internal("not run");
  StatusOr<int> result_b = Status::Internal("not run");
  std::thread a([&] { result_a = migrator->Apply(&db_a); });
  std::thread b([&] { result_b = migrator->Apply(&db_b); });
  a.join();
  b.join();
  ASSERT_TRUE(result_a.ok()) << result_a.status().ToString();
  ASSERT_TRUE(result_b.ok()) << result_b.status().ToString();
  EXPECT_EQ(*result_a + *result_b, 2);
  EXPECT_EQ(
      QueryInt(test_db.conninfo(), "SELECT count(*) FROM schema_migrations"),
      2);
}

TEST(MigratorTest, RefusesBadDirectories) {
  EXPECT_EQ(Load("/nonexistent/sluice-migrations").status().code(),
            Status::Code::kInvalidArgument);
  {
    TempDir empty;
    StatusOr<Migrator> loaded = Load(empty.path());
    ASSERT_FALSE(loaded.ok());
    EXPECT_NE(loaded.status().message().find("no migrations"),
              std::string::npos);
  }
  for (const char* bad : {"1_init.sql", "0001-init.sql", "0001_.sql",
                          "init.sql", "0001_in it.sql", "0000_zero.sql"}) {
    TempDir dir;
    dir.Write(bad, "SELECT 1;");
    StatusOr<Migrator> loaded = Load(dir.path());
    ASSERT_FALSE(loaded.ok()) << bad;
    EXPECT_NE(loaded.status().message().find("NNNN_name.sql"),
              std::string::npos)
        << loaded.status().message();
  }
  TempDir duplicate;
  duplicate.Write("0001_a.sql", "SELECT 1;");
  duplicate.Write("0001_b.sql", "SELECT 1;");
  StatusOr<Migrator> loaded = Load(duplicate.path());
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("same version"), std::string::npos);
}

TEST(MigratorTest, UnreachableDatabaseIsUnavailable) {
  Database db("host=127.0.0.1 port=" + std::to_string(testing::PickFreePort()) +
              " user=postgres dbname=postgres connect_timeout=2");
  StatusOr<Migrator> migrator = Load(SourceMigrationsDir());
  ASSERT_TRUE(migrator.ok());
  StatusOr<int> applied = migrator->Apply(&db);
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.status().code(), Status::Code::kUnavailable);
}

// The CHECK constraints of 0001_init mirror rule validation.
class SchemaTest : public testing::MigratedDatabaseTest {
 protected:
  // True when the statement is refused by a CHECK constraint.
  bool Refused(const std::string& sql) {
    pqxx::connection conn(test_db_->conninfo());
    pqxx::work tx(conn);
    try {
      tx.exec(sql);
    } catch (const pqxx::check_violation&) {
      return true;
    }
    return false;
  }
  static std::string InsertRule(const std::string& values) {
    return "INSERT INTO rules (name, domain, match, limit_tokens, period_ms, "
           "burst, mode, failure_mode) VALUES (" +
           values + ")";
  }
};

TEST_F(SchemaTest, AcceptsAValidRule) {
  EXPECT_FALSE(Refused(InsertRule(
      "'ok', 'api', '{\"client_id\": \"*\"}', 1, 1, 1, 'shadow', 'open'")));
}

TEST_F(SchemaTest, RefusesRowsValidationWouldRefuse) {
  const char* cases[] = {
      "'a b', 'api', '{}', 1, 1000, 1, 'enforce', 'local'",  // name
      "'', 'api', '{}', 1, 1000, 1, 'enforce', 'local'",     // name
      "'ok', 'a;b', '{}', 1, 1000, 1, 'enforce', 'local'",   // domain
      "'ok', 'api', '[]', 1, 1000, 1, 'enforce', 'local'",   // match
      "'ok', 'api', '{\"k\": 1}', 1, 1000, 1, 'enforce', 'local'",
      "'ok', 'api', '{\"k\": \"a b\"}', 1, 1000, 1, 'enforce', 'local'",
      "'ok', 'api', '{\"k\": \"\"}', 1, 1000, 1, 'enforce', 'local'",
      "'ok', 'api', '{}', 0, 1000, 1, 'enforce', 'local'",  // limit
      "'ok', 'api', '{}', 9007199254740993, 1000, 1, 'enforce', 'local'",
      "'ok', 'api', '{}', 1, 0, 1, 'enforce', 'local'",  // period
      "'ok', 'api', '{}', 1, 31536000001, 1, 'enforce', 'local'",
      "'ok', 'api', '{}', 1, 1000, 0, 'enforce', 'local'",  // burst
      "'ok', 'api', '{}', 1, 1000, 1, 'block', 'local'",    // mode
      "'ok', 'api', '{}', 1, 1000, 1, 'enforce', 'maybe'",  // failure_mode
  };
  for (const char* values : cases) {
    EXPECT_TRUE(Refused(InsertRule(values))) << values;
  }
  std::string seventeen_keys = "{";
  for (int i = 0; i < 17; ++i) {
    seventeen_keys +=
        (i ? ", " : "") + std::string("\"k") + std::to_string(i) + "\": \"v\"";
  }
  seventeen_keys += "}";
  EXPECT_TRUE(Refused(InsertRule("'ok', 'api', '" + seventeen_keys +
                                 "', 1, 1000, 1, 'enforce', 'local'")));
}

TEST_F(SchemaTest, RefusesBadTokensAndASecondStateRow) {
  EXPECT_TRUE(
      Refused("INSERT INTO api_tokens (name, role, token_sha256) VALUES ('t', "
              "'root', repeat('a', 64))"));
  EXPECT_TRUE(
      Refused("INSERT INTO api_tokens (name, role, token_sha256) VALUES ('t', "
              "'admin', 'not-a-hash')"));
  EXPECT_FALSE(
      Refused("INSERT INTO api_tokens (name, role, token_sha256) VALUES ('t', "
              "'viewer', repeat('a', 64))"));
  EXPECT_TRUE(Refused(
      "INSERT INTO rules_state (singleton, revision) VALUES (false, 1)"));
}

// Where the controller looks when --migrations is not given: an install's
// share/sluice/migrations, else the source tree's for a binary of the build
// tree, else nothing.
TEST(MigrationsDirForTest, InstalledBuildTreeOrNothing) {
  namespace fs = std::filesystem;
  TempDir root;
  const fs::path base = root.path();
  const fs::path source = base / "src" / "migrations";
  const fs::path build = base / "build";
  fs::create_directories(source);
  fs::create_directories(build / "controller");
  fs::create_directories(base / "usr" / "bin");
  fs::create_directories(base / "build-other" / "controller");
  const std::string built = (build / "controller" / "sluice-controller");
  const std::string installed = (base / "usr" / "bin" / "sluice-controller");

  EXPECT_EQ(MigrationsDirFor(built, build, source), source.string());
  // Installed, but the package's migrations are missing: never the source
  // tree of wherever it was built.
  EXPECT_EQ(MigrationsDirFor(installed, build, source), "");
  fs::create_directories(base / "usr" / "share" / "sluice" / "migrations");
  EXPECT_EQ(
      MigrationsDirFor(installed, build, source),
      fs::canonical(base / "usr" / "share" / "sluice" / "migrations").string());
  // A sibling of the build tree whose name starts the same is outside it.
  EXPECT_EQ(MigrationsDirFor(
                (base / "build-other" / "controller" / "sluice-controller"),
                build, source),
            "");
  EXPECT_EQ(MigrationsDirFor(built, build, (base / "nope").string()), "");
  EXPECT_EQ(MigrationsDirFor("", build, source), "");
}

}  // namespace
}  // namespace sluice
