// SessionRows: the dashboard's sign-in sessions in dashboard_sessions
// (migrations/0014), shared by every controller on the database. Rows hold
// a session id's SHA-256, its API token and when it expires (the
// database's clock decides expiry, so controllers need not agree on
// theirs). The in-memory side, the cookie and the checks are
// SessionStore's (controller/api/session_store.h).
//
// Every method is Unavailable while the database is away.
//
// Thread-safe (through the Database).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"
#include "controller/store/database.h"

namespace sluice {

class SessionRows {
 public:
  // Expired rows deleted per Insert, at most.
  static constexpr int kExpiredBatch = 100;

  // `db` must outlive this.
  explicit SessionRows(Database* db) : db_(db) {}

  // Stores a session that lasts `lifetime_seconds`, first deleting up to
  // kExpiredBatch expired rows, then, while more than `cap` - 1 live, the
  // ones ending first.
  Status Insert(const std::string& sha256_hex, int64_t token_id,
                int64_t lifetime_seconds, int64_t cap);

  struct Live {
    int64_t token_id = 0;
    int64_t remaining_millis = 0;  // until it expires, > 0
  };
  // The live session with that hash, or nothing (unknown or expired).
  StatusOr<std::optional<Live>> Find(const std::string& sha256_hex);

  Status Delete(const std::string& sha256_hex);
  Status DeleteAllOf(int64_t token_id);

 private:
  Database* const db_;
};

}  // namespace sluice
