// TestDatabase: a fresh, empty PostgreSQL database on the test server, for
// one test or one fixture, dropped when the object goes away.
//
// The server is the one named by $SLUICE_TEST_DB (a libpq connection string
// to a database the test may use to CREATE DATABASE, e.g.
// "host=127.0.0.1 port=55432 user=postgres dbname=postgres"), which
// deploy/test.sh starts and exports. Without it the constructor fails the
// test with a message saying how to run it: these tests never pass without
// a real server.
#pragma once

#include <string>

namespace sluice::testing {

class TestDatabase {
 public:
  TestDatabase();
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  // libpq connection string for the new database.
  const std::string& conninfo() const { return conninfo_; }
  const std::string& name() const { return name_; }

  // Runs `sql` on a connection of its own, outside a transaction block;
  // returns the first column of the first row as text ("" when there is
  // none, or it is NULL). Throws what libpqxx throws.
  std::string Sql(const std::string& sql) const;

  // The server's admin connection string ($SLUICE_TEST_DB), or throws.
  static std::string ServerConninfo();

 private:
  std::string name_;
  std::string conninfo_;
};

}  // namespace sluice::testing
