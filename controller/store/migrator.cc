#include "controller/store/migrator.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <pqxx/pqxx>
#include <sstream>
#include <system_error>
#include <utility>

#include "platform/log.h"

// Compiled in by controller/store/CMakeLists.txt.
#ifndef SLUICE_MIGRATIONS_DIR
#define SLUICE_MIGRATIONS_DIR ""
#endif
#ifndef SLUICE_BUILD_DIR
#define SLUICE_BUILD_DIR ""
#endif

namespace sluice {
namespace {

namespace fs = std::filesystem;

// Key of the advisory lock that serialises migrators: "sluicemg".
constexpr int64_t kMigrationLockKey = 0x736c7569636d67;

bool ParseFileName(const std::string& file, int64_t* version,
                   std::string* name) {
  const std::string suffix = ".sql";
  if (file.size() <= suffix.size() ||
      file.compare(file.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return false;
  }
  std::string stem = file.substr(0, file.size() - suffix.size());
  size_t underscore = stem.find('_');
  if (underscore == std::string::npos || underscore < 4 || underscore > 12 ||
      underscore + 1 == stem.size()) {
    return false;
  }
  int64_t v = 0;
  for (size_t i = 0; i < underscore; ++i) {
    char c = stem[i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  for (size_t i = underscore + 1; i < stem.size(); ++i) {
    char c = stem[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  if (v <= 0) return false;
  *version = v;
  *name = stem.substr(underscore + 1);
  return true;
}

void EnsureTable(pqxx::work& tx) {
  tx.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version bigint PRIMARY KEY,"
      " name text NOT NULL,"
      " applied_at timestamptz NOT NULL DEFAULT now())");
}

void Lock(pqxx::work& tx) {
  tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
}

}  // namespace

std::string FormatMigrationVersion(int64_t version) {
  std::string digits = std::to_string(version);
  if (digits.size() < 4) digits.insert(0, 4 - digits.size(), '0');
  return digits;
}

StatusOr<Migrator> Migrator::FromDirectory(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Status::InvalidArgument(
        "migrations directory '" + dir +
        "' does not exist; give the migrations/ folder of this release with "
        "--migrations DIR (or SLUICE_MIGRATIONS)");
  }
  std::vector<Migration> migrations;
  std::map<int64_t, std::string> seen;
  // The error_code forms throughout: a directory that changes under us is
  // an error to report, not an exception.
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const fs::directory_entry& entry = *it;
    std::error_code type_ec;
    if (!entry.is_regular_file(type_ec)) continue;
    std::string file = entry.path().filename().string();
    if (entry.path().extension() != ".sql") continue;
    Migration m;
    if (!ParseFileName(file, &m.version, &m.name)) {
      return Status::InvalidArgument(
          "migration file '" + entry.path().string() +
          "' is not named NNNN_name.sql (a version of 4 or more digits, an "
          "underscore, then letters, digits or underscores)");
    }
    auto [previous, inserted] = seen.emplace(m.version, file);
    if (!inserted) {
      return Status::InvalidArgument(
          "migrations '" + previous->second + "' and '" + file + "' in " + dir +
          " have the same version " + FormatMigrationVersion(m.version) +
          "; every version must be unique");
    }
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in.good() && !in.eof()) {
      return Status::Unavailable("cannot read migration '" +
                                 entry.path().string() + "'");
    }
    m.path = entry.path().string();
    m.sql = text.str();
    migrations.push_back(std::move(m));
  }
  if (ec) {
    return Status::Unavailable("cannot list migrations directory '" + dir +
                               "': " + ec.message());
  }
  if (migrations.empty()) {
    return Status::InvalidArgument(
        "no migrations (NNNN_name.sql) in '" + dir +
        "'; point --migrations at the migrations/ folder of this release");
  }
  Migrator migrator(std::move(migrations));
  migrator.source_ = dir;
  return migrator;
}

Migrator::Migrator(std::vector<Migration> migrations)
    : migrations_(std::move(migrations)) {
  std::sort(migrations_.begin(), migrations_.end(),
            [](const Migration& a, const Migration& b) {
              return a.version < b.version;
            });
}

int64_t Migrator::latest_version() const {
  return migrations_.empty() ? 0 : migrations_.back().version;
}

StatusOr<int> Migrator::Apply(Database* db) const {
  int applied = 0;
  // The newest recorded version, checked before anything is applied.
  Status checked = db->Run([&](pqxx::connection& conn) {
    pqxx::work tx(conn, "migrations-check");
    Lock(tx);
    EnsureTable(tx);
    pqxx::result r = tx.exec(
        "SELECT version, name FROM schema_migrations ORDER BY version DESC "
        "LIMIT 1");
    tx.commit();
    if (r.empty()) return Status::Ok();
    int64_t version = r[0][0].as<int64_t>();
    if (version > latest_version()) {
      return Status::FailedPrecondition(
          "the database schema is at migration " +
          FormatMigrationVersion(version) + " (" + r[0][1].as<std::string>() +
          "), newer than the newest this controller knows (" +
          FormatMigrationVersion(latest_version()) +
          (source_.empty() ? "" : " in " + source_) +
          "): a newer sluice-controller migrated it. Upgrade this controller "
          "(or point --migrations at the newer release's migrations/); it "
          "will not run against a schema it does not know");
    }
    return Status::Ok();
  });
  if (!checked.ok()) return checked;

  for (const Migration& m : migrations_) {
    bool ran = false;
    Status status = db->Run([&](pqxx::connection& conn) {
      pqxx::work tx(conn, "migration");
      Lock(tx);
      pqxx::result done = tx.exec_params(
          "SELECT 1 FROM schema_migrations WHERE version = $1", m.version);
      if (!done.empty()) return Status::Ok();  // applied before, or just now
      try {
        tx.exec(m.sql);
      } catch (const pqxx::sql_error& e) {
        if (e.sqlstate().rfind("08", 0) == 0 ||
            e.sqlstate().rfind("57P", 0) == 0) {
          throw;  // connection loss: Database maps it
        }
        return Status::Internal(
            "migration " + m.path + " failed (SQLSTATE " + e.sqlstate() +
            "): " + TrimPqxxMessage(e.what()) +
            "; nothing of it was applied. Fix the file or the database and "
            "start again");
      }
      tx.exec_params(
          "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
          m.version, m.name);
      tx.commit();
      ran = true;
      return Status::Ok();
    });
    if (!status.ok()) return status;
    if (ran) {
      ++applied;
      LogInfo("migrator", "applied migration " +
                              FormatMigrationVersion(m.version) + "_" + m.name);
    }
  }
  return applied;
}

std::string MigrationsDirFor(const std::string& exe,
                             const std::string& build_dir,
                             const std::string& source_migrations) {
  std::error_code ec;
  const fs::path bin = fs::path(exe).parent_path();
  const fs::path installed =
      bin.parent_path() / "share" / "sluice" / "migrations";
  if (!exe.empty() && fs::is_directory(installed, ec)) {
    return fs::weakly_canonical(installed, ec).string();
  }
  if (exe.empty() || build_dir.empty() || source_migrations.empty()) return "";
  // Inside the build tree: the executable's canonical path starts with the
  // build tree's, component by component.
  const fs::path exe_path = fs::weakly_canonical(exe, ec);
  const fs::path build = fs::weakly_canonical(build_dir, ec);
  if (ec) return "";
  auto b = build.begin();
  auto e = exe_path.begin();
  for (; b != build.end() && e != exe_path.end(); ++b, ++e) {
    if (*b != *e) return "";
  }
  if (b != build.end()) return "";
  return fs::is_directory(source_migrations, ec) ? source_migrations : "";
}

std::string DefaultMigrationsDir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  return MigrationsDirFor(exe.string(), SLUICE_BUILD_DIR,
                          SLUICE_MIGRATIONS_DIR);
}

}  // namespace sluice
