// MembershipStore: the controllers table and the controller_set row
// (migrations/0012_controllers.sql, docs/high-availability.md), on a
// Database connection of its own (the heartbeat must not queue behind the
// REST API's queries).
//
// Beat() is one heartbeat round: one statement, one round trip, calling
// controller_beat() (migrations/0015_controller_beat.sql) outside any
// BEGIN/COMMIT, so that the statement is its own transaction. By the
// database's clock, it
//   1. upserts this controller's row with heartbeat_at = now();
//   2. when `replace_same_endpoint` (the first round after this process
//      bound its endpoint), deletes other rows with the same endpoint: they
//      are earlier incarnations of this controller, dead since the endpoint
//      could be bound;
//   3. deletes rows silent for longer than `forget_ms`;
//   4. reads the live members (heartbeat at most `dead_ms` old), sorted by
//      id in byte order; when they differ from the stored set, locks the
//      row, reads it again and, if they still differ, stores them with
//      version + 1;
//   5. reads the rules' revision (so that changes made through other
//      controllers are picked up within a heartbeat);
//   6. reads every row, for the API.
// An error in any step undoes them all. Failures come as Database maps
// them: Unavailable when unreachable, Internal for the rest (a missing
// controller_set row, a malformed members list).
//
// Thread-safe (Database serialises its connection).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/membership.h"
#include "common/status.h"
#include "controller/store/database.h"

namespace sluice {

// This controller, as it registers.
struct MemberInfo {
  std::string id;
  std::string endpoint;  // what agents reach it at (--advertise)
  std::string http;      // its REST API address
  std::string version;   // its release
};

// A row of the controllers table, for GET /api/v1/controllers.
struct MemberRow {
  std::string id;
  std::string endpoint;
  std::string http;
  std::string version;
  std::string started_at;    // ISO 8601, UTC
  int64_t heartbeat_age_ms;  // by the database's clock, at the read
};

struct BeatResult {
  ControllerSet stored;    // the set in force after this round
  ControllerSet previous;  // the set stored before this round
  bool replaced = false;   // this round stored a new version
  int64_t rules_revision = 0;
  std::vector<MemberRow> rows;  // every row, live or not, by id
};

class MembershipStore {
 public:
  explicit MembershipStore(Database* db) : db_(db) {}

  StatusOr<BeatResult> Beat(const MemberInfo& self, int64_t dead_ms,
                            int64_t forget_ms, bool replace_same_endpoint);
  // Deletes this controller's row (a clean stop), so that the others drop
  // it from the set at their next heartbeat rather than after dead_ms.
  Status Leave(const std::string& id);

 private:
  Database* const db_;
};

}  // namespace sluice
