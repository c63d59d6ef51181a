// Database: the controller's one PostgreSQL connection, opened lazily and
// reopened after it breaks, and the place where libpqxx failures become
// Status values.
//
// Run() hands the connection to a callback while holding a mutex, so all
// database work of the process is serialised on one connection. That is
// enough for an admin API (a few requests a second); a pool can replace it
// behind the same Run() when it is not.
//
// Failure mapping (the callback may throw any of these; Run() catches them):
//   - cannot connect, connection lost (pqxx::broken_connection, SQLSTATE
//     class 08 or 57P): Unavailable; the connection is dropped and the next
//     Run() connects again;
//   - commit outcome unknown (pqxx::in_doubt_error): Unavailable, same;
//   - any other pqxx::sql_error or pqxx::failure: Internal, with the
//     SQLSTATE and the server's message.
// Errors the caller expects (a unique violation meaning "name taken") are
// caught inside the callback and returned as a Status.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <pqxx/connection>
#include <string>

#include "common/status.h"
#include "platform/mutex.h"

namespace sluice {

class Database {
 public:
  // `conninfo` is a libpq connection string or URI; empty means libpq's
  // PG* environment variables. Nothing is opened until the first Run().
  explicit Database(std::string conninfo);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Connects if needed, then calls `fn` with the connection. Returns what
  // `fn` returns, or the mapped failure (see above).
  Status Run(const std::function<Status(pqxx::connection&)>& fn) EXCLUDES(mu_);

  // "SELECT 1": OK when the database answers now.
  Status Ping() EXCLUDES(mu_);

  // How many times a connection was opened; changes after a reconnect.
  int64_t connection_count() const EXCLUDES(mu_);

 private:
  Status ConnectLocked() REQUIRES(mu_);
  void DropLocked() REQUIRES(mu_);

  const std::string conninfo_;
  mutable Mutex mu_;
  // Null while closed. The connection itself is used only under mu_ too.
  std::unique_ptr<pqxx::connection> conn_ GUARDED_BY(mu_) PT_GUARDED_BY(mu_);
  int64_t connection_count_ GUARDED_BY(mu_) = 0;
};

// The message of a pqxx exception on one line, without libpq's line breaks.
std::string TrimPqxxMessage(const char* what);

}  // namespace sluice
