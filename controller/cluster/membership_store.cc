#include "controller/cluster/membership_store.h"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <utility>

namespace sluice {

namespace {

// controller_set.members, a JSON array of {"id", "endpoint"}.
StatusOr<std::vector<ControllerMember>> MembersFromJsonValue(
    const nlohmann::json& list) {
  if (!list.is_array()) {
    return Status::Internal("controller_set.members is not a JSON array: " +
                            list.dump());
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

// {"version": n, "members": [...]} of controller_beat's result.
StatusOr<ControllerSet> SetFromJson(const nlohmann::json& j) {
  ControllerSet set;
  set.version = j.at("version").get<int64_t>();
  StatusOr<std::vector<ControllerMember>> members =
      MembersFromJsonValue(j.at("members"));
  if (!members.ok()) return members.status();
  set.members = std::move(members).value();
  return set;
}

// controller_beat's jsonb (migrations/0015_controller_beat.sql).
StatusOr<BeatResult> BeatFromJson(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Internal("controller_beat returned no JSON object: " + text);
  }
  try {
    BeatResult result;
    StatusOr<ControllerSet> previous = SetFromJson(j.at("previous"));
    if (!previous.ok()) return previous.status();
    StatusOr<ControllerSet> stored = SetFromJson(j.at("stored"));
    if (!stored.ok()) return stored.status();
    result.previous = std::move(previous).value();
    result.stored = std::move(stored).value();
    result.replaced = j.at("replaced").get<bool>();
    result.rules_revision = j.at("rules_revision").get<int64_t>();
    for (const nlohmann::json& row : j.at("rows")) {
      result.rows.push_back({row.at("id").get<std::string>(),
                             row.at("endpoint").get<std::string>(),
                             row.at("http").get<std::string>(),
                             row.at("version").get<std::string>(),
                             row.at("started_at").get<std::string>(),
                             row.at("heartbeat_age_ms").get<int64_t>()});
    }
    return result;
  } catch (const nlohmann::json::exception& e) {
    return Status::Internal(
        std::string("controller_beat returned an unexpected result (") +
        e.what() + "): " + text);
  }
}

}  // namespace

StatusOr<BeatResult> MembershipStore::Beat(const MemberInfo& self,
                                           int64_t dead_ms, int64_t forget_ms,
                                           bool replace_same_endpoint) {
  std::string text;
  Status status = db_->Run([&](pqxx::connection& conn) -> Status {
    // No BEGIN/COMMIT: the one statement is its own transaction.
    pqxx::nontransaction tx(conn, "controller-heartbeat");
    pqxx::result r = tx.exec_params(
        "SELECT controller_beat($1, $2, $3, $4, $5::bigint, $6::bigint, "
        "$7::boolean)::text",
        self.id, self.endpoint, self.http, self.version, dead_ms, forget_ms,
        replace_same_endpoint);
    text = r.at(0).at(0).as<std::string>();
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return BeatFromJson(text);
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
