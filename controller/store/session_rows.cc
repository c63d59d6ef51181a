#include "controller/store/session_rows.h"

#include <pqxx/pqxx>

namespace sluice {

Status SessionRows::Insert(const std::string& sha256_hex, int64_t token_id,
                           int64_t lifetime_seconds, int64_t cap) {
  return db_->Run([&](pqxx::connection& conn) {
    pqxx::work tx(conn, "session_insert");
    tx.exec_params(
        "DELETE FROM dashboard_sessions WHERE id_sha256 IN (SELECT id_sha256 "
        "FROM dashboard_sessions WHERE expires_at <= now() LIMIT $1)",
        kExpiredBatch);
    tx.exec_params(
        "DELETE FROM dashboard_sessions WHERE id_sha256 IN (SELECT id_sha256 "
        "FROM dashboard_sessions ORDER BY expires_at DESC OFFSET $1)",
        cap - 1);
    tx.exec_params(
        "INSERT INTO dashboard_sessions (id_sha256, token_id, expires_at) "
        "VALUES ($1, $2, now() + make_interval(secs => $3))",
        sha256_hex, token_id, lifetime_seconds);
    tx.commit();
    return Status::Ok();
  });
}

StatusOr<std::optional<SessionRows::Live>> SessionRows::Find(
    const std::string& sha256_hex) {
  std::optional<Live> live;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn, "session_find");
    pqxx::result rows = tx.exec_params(
        "SELECT token_id, "
        "ceil(extract(epoch FROM expires_at - now()) * 1000)::bigint "
        "FROM dashboard_sessions WHERE id_sha256 = $1 AND expires_at > now()",
        sha256_hex);
    tx.commit();
    live.reset();
    if (!rows.empty()) {
      live = Live{rows[0][0].as<int64_t>(), rows[0][1].as<int64_t>()};
    }
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return live;
}

Status SessionRows::Delete(const std::string& sha256_hex) {
  return db_->Run([&](pqxx::connection& conn) {
    pqxx::work tx(conn, "session_delete");
    tx.exec_params("DELETE FROM dashboard_sessions WHERE id_sha256 = $1",
                   sha256_hex);
    tx.commit();
    return Status::Ok();
  });
}

Status SessionRows::DeleteAllOf(int64_t token_id) {
  return db_->Run([&](pqxx::connection& conn) {
    pqxx::work tx(conn, "session_delete_all_of");
    tx.exec_params("DELETE FROM dashboard_sessions WHERE token_id = $1",
                   token_id);
    tx.commit();
    return Status::Ok();
  });
}

}  // namespace sluice
