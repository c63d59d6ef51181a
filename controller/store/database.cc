#include "controller/store/database.h"

#include <pqxx/pqxx>
#include <utility>

#include "platform/log.h"

namespace sluice {
namespace {

// SQLSTATE classes that mean the session is gone: 08 connection exception,
// 57P operator intervention (admin shutdown, crash shutdown, cannot connect
// now, database dropped).
bool IsConnectionLoss(const std::string& sqlstate) {
  return sqlstate.rfind("08", 0) == 0 || sqlstate.rfind("57P", 0) == 0;
}

}  // namespace

std::string TrimPqxxMessage(const char* what) {
  // libpq ends messages with a newline and continues them on indented
  // lines; logs want one line.
  std::string message;
  bool in_break = false;
  for (const char* c = what == nullptr ? "" : what; *c != '\0'; ++c) {
    if (*c == '\n' || *c == '\r' || *c == '\t') {
      in_break = true;
      continue;
    }
    if (in_break && !message.empty() && message.back() != ' ') {
      message += ' ';
    }
    in_break = false;
    message += *c;
  }
  while (!message.empty() && message.back() == ' ') message.pop_back();
  return message;
}

Database::Database(std::string conninfo) : conninfo_(std::move(conninfo)) {}

Database::~Database() = default;

Status Database::ConnectLocked() {
  try {
    auto conn = std::make_unique<pqxx::connection>(conninfo_);
    // CREATE ... IF NOT EXISTS and friends send NOTICEs that libpqxx would
    // print on stderr; only warnings and errors are worth a line.
    conn->set_variable("client_min_messages", "warning");
    conn_ = std::move(conn);
    ++connection_count_;
    return Status::Ok();
  } catch (const pqxx::broken_connection& e) {
    return Status::Unavailable(
        "cannot connect to PostgreSQL: " + TrimPqxxMessage(e.what()) +
        "; check --db / SLUICE_DB (a libpq connection string) and that the "
        "server is up");
  } catch (const pqxx::sql_error& e) {
    // Refused during start-up of the session, e.g. the database does not
    // exist yet or the server is shutting down.
    return Status::Unavailable(
        "PostgreSQL refused the connection: " + TrimPqxxMessage(e.what()) +
        "; check --db / SLUICE_DB and the server");
  }
}

void Database::DropLocked() { conn_.reset(); }

Status Database::Run(const std::function<Status(pqxx::connection&)>& fn) {
  MutexLock lock(&mu_);
  if (conn_ == nullptr) {
    Status connected = ConnectLocked();
    if (!connected.ok()) return connected;
  }
  try {
    return fn(*conn_);
  } catch (const pqxx::broken_connection& e) {
    DropLocked();
    return Status::Unavailable(
        "lost the connection to PostgreSQL: " + TrimPqxxMessage(e.what()) +
        "; it is reopened on the next request");
  } catch (const pqxx::in_doubt_error& e) {
    DropLocked();
    return Status::Unavailable(
        "lost the connection to PostgreSQL while committing, so whether the "
        "change was saved is unknown (" +
        TrimPqxxMessage(e.what()) + "); read it back before retrying");
  } catch (const pqxx::sql_error& e) {
    if (IsConnectionLoss(e.sqlstate())) {
      DropLocked();
      return Status::Unavailable("PostgreSQL closed the session (SQLSTATE " +
                                 e.sqlstate() +
                                 "): " + TrimPqxxMessage(e.what()) +
                                 "; it is reopened on the next request");
    }
    return Status::Internal("database error (SQLSTATE " + e.sqlstate() +
                            "): " + TrimPqxxMessage(e.what()) +
                            "; query: " + e.query());
  } catch (const pqxx::failure& e) {
    // Other libpqxx failures leave the connection in an unknown state.
    DropLocked();
    return Status::Internal("database failure: " + TrimPqxxMessage(e.what()));
  } catch (const pqxx::conversion_error& e) {
    return Status::Internal(
        "a database value did not convert to the expected type (a bug or a "
        "hand-edited row): " +
        TrimPqxxMessage(e.what()));
  } catch (const pqxx::pqxx_exception& e) {
    // usage_error, range_error (unexpected row count), argument_error: a
    // mismatch between the controller's SQL and the schema.
    return Status::Internal("database usage error (a bug in the controller): " +
                            TrimPqxxMessage(e.base().what()));
  }
}

Status Database::Ping() {
  return Run([](pqxx::connection& conn) {
    pqxx::nontransaction tx(conn);
    tx.exec("SELECT 1");
    return Status::Ok();
  });
}

int64_t Database::connection_count() const {
  MutexLock lock(&mu_);
  return connection_count_;
}

}  // namespace sluice
