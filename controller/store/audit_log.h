// AuditLog: the append-only audit_log table (migrations/0002): every change
// to rules, tokens and agent keys, written in the same transaction as the
// change, with who made it and the value before and after.
//
// Writers call Append() inside their own pqxx::work; the first Append() of a
// transaction takes an advisory lock held until commit, so audit ids
// increase in commit order and a reader paging "after id N" never misses a
// row committed later with a smaller id. The database refuses UPDATE,
// DELETE and TRUNCATE on the table (a trigger), whoever asks.
//
// Read() pages through it, oldest first, filtered in SQL (indexes in
// migrations/0013).
//
// Thread-safe (Read() goes through the Database; Append() uses only the
// transaction it is given).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "common/status.h"
#include "controller/store/database.h"

namespace sluice {

// Who made a change: a token, or the controller itself (token_id 0, name
// "controller").
struct Actor {
  int64_t token_id = 0;
  std::string name = "controller";
};

// One change, as a writer records it.
struct AuditRecord {
  std::string action;       // "rule.create", "token.revoke", ...
  std::string target_kind;  // "rule", "token", "agent_key"
  int64_t target_id = 0;
  std::string target_name;
  nlohmann::json before;  // null when the target was created
  nlohmann::json after;   // null when it was deleted
};

// One row as read back.
struct AuditEntry {
  int64_t id = 0;
  std::string at;  // RFC 3339 UTC, microseconds: "2026-01-02T03:04:05.123456Z"
  Actor actor;
  AuditRecord record;
};

class AuditLog {
 public:
  static constexpr int kDefaultLimit = 100;
  static constexpr int kMaxLimit = 1000;

  // `db` must outlive this.
  explicit AuditLog(Database* db) : db_(db) {}

  // Appends `record` by `actor` inside `tx` (see above about the lock).
  // Throws what pqxx throws; the caller's Database::Run maps it.
  static void Append(pqxx::work& tx, const Actor& actor,
                     const AuditRecord& record);

  // Every condition given must hold (AND); an empty one is not applied.
  struct Query {
    int64_t after_id = 0;       // entries with a larger id
    std::string since;          // or, when not empty: entries at or after this
                                // RFC 3339 time
    std::string until;          // entries before this RFC 3339 time
    std::string actor;          // entries by this actor (exact name)
    std::string kind;           // entries about this target_kind ("rule", ...)
    std::string target;         // entries about the target with this name,
                                // or this id when it is a whole number
    int limit = kDefaultLimit;  // 1..kMaxLimit
  };
  struct Page {
    std::vector<AuditEntry> entries;  // by id, ascending
    // The id to pass as the next after_id when the page is full (more may
    // follow); 0 when the page was not full.
    int64_t next = 0;
  };
  // InvalidArgument (field "since", "until" or "limit") for a bad query.
  StatusOr<Page> Read(const Query& query);

  // Whether `text` has the form of an RFC 3339 date-time
  // ("2026-01-02T03:04:05Z", fraction and offset optional forms included).
  // The database then checks the calendar (month 13 is refused).
  static bool LooksLikeRfc3339(const std::string& text);

 private:
  Database* const db_;
};

}  // namespace sluice
