#include "controller/cluster/membership_store.h"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <utility>

namespace sluice {

std::string MembersToJson(const std::vector<ControllerMember>& members) {
  nlohmann::json list = nlohmann::json::array();
  for (const ControllerMember& m : members) {
    list.push_back({{"id", m.id}, {"endpoint", m.endpoint}});
  }
  return list.dump();
}

StatusOr<std::vector<ControllerMember>> MembersFromJson(const std::string& s) {
  nlohmann::json list = nlohmann::json::parse(s, nullptr, false);
  if (!list.is_array()) {
    return Status::Internal("controller_set.members is not a JSON array: " + s);
  }
  std::vector<ControllerMember> members;
  for (const nlohmann::json& m : list) {
    if (!m.is_object() || !m.contains("id") || !m["id"].is_string() ||
        !m.contains("endpoint") || !m["endpoint"].is_string()) {
      return Status::Internal(
          "controller_set.members holds an entry without string id and "
          "endpoint: " +
          m.dump());
    }
    members.push_back(
        {m["id"].get<std::string>(), m["endpoint"].get<std::string>()});
  }
  return members;
}

namespace {

StatusOr<ControllerSet> ReadSet(pqxx::work& tx, bool lock) {
  pqxx::result r = tx.exec(std::string("SELECT version, members::text FROM "
                                       "controller_set") +
                           (lock ? " FOR UPDATE" : ""));
  if (r.empty()) {
    return Status::Internal(
        "the controller_set row is missing (migration 0012 inserts it)");
  }
  ControllerSet set;
  set.version = r[0][0].as<int64_t>();
  StatusOr<std::vector<ControllerMember>> members =
      MembersFromJson(r[0][1].as<std::string>());
  if (!members.ok()) return members.status();
  set.members = std::move(members).value();
  return set;
}

std::vector<ControllerMember> LiveMembers(pqxx::work& tx, int64_t dead_ms) {
  pqxx::result r = tx.exec_params(
      "SELECT id, endpoint FROM controllers WHERE heartbeat_at >= "
      "clock_timestamp() - $1::double precision * interval '1 millisecond' "
      "ORDER BY id",
      dead_ms);
  std::vector<ControllerMember> live;
  for (const auto& row : r) {
    live.push_back({row[0].as<std::string>(), row[1].as<std::string>()});
  }
  SortMembers(&live);  // byte order, whatever the database's collation
  return live;
}

std::vector<MemberRow> AllRows(pqxx::work& tx) {
  pqxx::result r = tx.exec(
      "SELECT id, endpoint, http, version, "
      "to_char(started_at AT TIME ZONE 'UTC', "
      "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
      "(extract(epoch FROM clock_timestamp() - heartbeat_at) * 1000)::bigint "
      "FROM controllers ORDER BY id");
  std::vector<MemberRow> rows;
  for (const auto& row : r) {
    rows.push_back({row[0].as<std::string>(), row[1].as<std::string>(),
                    row[2].as<std::string>(), row[3].as<std::string>(),
                    row[4].as<std::string>(), row[5].as<int64_t>()});
  }
  return rows;
}

}  // namespace

StatusOr<BeatResult> MembershipStore::Beat(const MemberInfo& self,
                                           int64_t dead_ms, int64_t forget_ms,
                                           bool replace_same_endpoint) {
  BeatResult result;
  Status status = db_->Run([&](pqxx::connection& conn) -> Status {
    result = BeatResult();
    pqxx::work tx(conn, "controller-heartbeat");
    tx.exec_params(
        "INSERT INTO controllers (id, endpoint, http, version, started_at, "
        "heartbeat_at) VALUES ($1, $2, $3, $4, clock_timestamp(), "
        "clock_timestamp()) ON CONFLICT (id) DO UPDATE SET heartbeat_at = "
        "clock_timestamp(), endpoint = EXCLUDED.endpoint, http = "
        "EXCLUDED.http",
        self.id, self.endpoint, self.http, self.version);
    if (replace_same_endpoint) {
      tx.exec_params("DELETE FROM controllers WHERE endpoint = $1 AND id <> $2",
                     self.endpoint, self.id);
    }
    tx.exec_params(
        "DELETE FROM controllers WHERE heartbeat_at < clock_timestamp() - "
        "$1::double precision "
        "* interval '1 millisecond'",
        forget_ms);
    const std::vector<ControllerMember> live = LiveMembers(tx, dead_ms);
    StatusOr<ControllerSet> stored = ReadSet(tx, /*lock=*/false);
    if (!stored.ok()) return stored.status();
    result.previous = *stored;
    if (stored->members != live) {
      stored = ReadSet(tx, /*lock=*/true);  // the latest, under the lock
      if (!stored.ok()) return stored.status();
      if (stored->members != live) {
        tx.exec_params(
            "UPDATE controller_set SET version = version + 1, members = "
            "$1::jsonb, changed_at = clock_timestamp()",
            MembersToJson(live));
        stored->version += 1;
        stored->members = live;
        result.replaced = true;
      }
    }
    result.stored = std::move(stored).value();
    result.rules_revision =
        tx.exec("SELECT revision FROM rules_state")[0][0].as<int64_t>();
    result.rows = AllRows(tx);
    tx.commit();
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return result;
}

Status MembershipStore::Leave(const std::string& id) {
  return db_->Run([&](pqxx::connection& conn) -> Status {
    pqxx::work tx(conn, "controller-leave");
    tx.exec_params("DELETE FROM controllers WHERE id = $1", id);
    tx.commit();
    return Status::Ok();
  });
}

}  // namespace sluice
