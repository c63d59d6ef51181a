#include "tests/support/test_database.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <pqxx/pqxx>
#include <stdexcept>

namespace sluice::testing {
namespace {
std::atomic<int> g_counter{0};
}

std::string TestDatabase::ServerConninfo() {
  const char* env = std::getenv("SLUICE_TEST_DB");
  if (env == nullptr || *env == '\0') {
    throw std::runtime_error(
        "SLUICE_TEST_DB is not set: these tests need a real PostgreSQL. Run "
        "deploy/test.sh, or export SLUICE_TEST_DB='host=127.0.0.1 port=PORT "
        "user=postgres dbname=postgres'");
  }
  return env;
}

TestDatabase::TestDatabase() {
  std::string server = ServerConninfo();
  name_ = "sluice_t_" + std::to_string(::getpid()) + "_" +
          std::to_string(g_counter.fetch_add(1));
  pqxx::connection admin(server);
  pqxx::nontransaction tx(admin);
  tx.exec("DROP DATABASE IF EXISTS " + name_);
  tx.exec("CREATE DATABASE " + name_);
  conninfo_ = server + " dbname=" + name_;
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection admin(ServerConninfo());
    pqxx::nontransaction tx(admin);
    tx.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (const std::exception&) {
    // The server may be gone at the end of a fault test; nothing to clean.
  }
}

std::string TestDatabase::Sql(const std::string& sql) const {
  pqxx::connection conn(conninfo_);
  pqxx::nontransaction tx(conn);
  pqxx::result rows = tx.exec(sql);
  if (rows.empty() || rows.columns() == 0 || rows[0][0].is_null()) return "";
  return rows[0][0].as<std::string>();
}

}  // namespace sluice::testing
