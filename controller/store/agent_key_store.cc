#include "controller/store/agent_key_store.h"

#include <utility>

#include "platform/curve_keys.h"

namespace sluice {
namespace {

constexpr const char* kSelect =
    "SELECT id, name, public_key, "
    "to_char(created_at AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "coalesce(to_char(revoked_at AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '') FROM agent_keys ";

AgentKey FromRow(const pqxx::row& row) {
  AgentKey key;
  key.id = row[0].as<int64_t>();
  key.name = row[1].as<std::string>();
  key.public_key = row[2].as<std::string>();
  key.created_at = row[3].as<std::string>();
  key.revoked_at = row[4].as<std::string>();
  return key;
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
         c == '/' || c == '-';
}

StatusOr<AgentKey> ReadInTx(pqxx::work& tx, int64_t id) {
  pqxx::result rows =
      tx.exec_params(std::string(kSelect) + "WHERE id = $1", id);
  if (rows.empty()) {
    return Status::Internal("agent key " + std::to_string(id) +
                            " vanished inside its own transaction");
  }
  return FromRow(rows[0]);
}

StatusOr<std::vector<AgentKey>> Select(Database* db, const char* tx_name,
                                       const std::string& where) {
  std::vector<AgentKey> keys;
  Status status = db->Run([&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn, tx_name);
    pqxx::result rows = tx.exec(std::string(kSelect) + where + " ORDER BY id");
    tx.commit();
    keys.clear();
    for (const pqxx::row& row : rows) keys.push_back(FromRow(row));
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return keys;
}

}  // namespace

nlohmann::json AgentKeyToJson(const AgentKey& key) {
  return nlohmann::json{
      {"id", key.id},
      {"name", key.name},
      {"public_key", key.public_key},
      {"created_at", key.created_at},
      {"revoked_at", key.revoked_at.empty() ? nlohmann::json(nullptr)
                                            : nlohmann::json(key.revoked_at)}};
}

Status ValidateAgentKeyName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 128;
  for (char c : name) ok = ok && IsNameChar(c);
  if (ok) return Status::Ok();
  return Status::InvalidArgument(
      "name must be 1 to 128 characters of letters, digits and _ . : / -, "
      "such as \"web-7.eu-west\"",
      "name");
}

Status ValidateAgentPublicKey(const std::string& public_key) {
  Status valid = ValidateCurveKey(public_key, "public_key");
  if (valid.ok()) return valid;
  return Status::InvalidArgument(
      valid.message() +
          " (the public= line of the agent's key file, never the secret=)",
      "public_key");
}

AuditRecord AgentKeyStore::MakeAuditRecord(const char* action,
                                           const AgentKey* before,
                                           const AgentKey* after) {
  const AgentKey& key = after != nullptr ? *after : *before;
  AuditRecord record;
  record.action = action;
  record.target_kind = "agent_key";
  record.target_id = key.id;
  record.target_name = key.name;
  if (before != nullptr) record.before = AgentKeyToJson(*before);
  if (after != nullptr) record.after = AgentKeyToJson(*after);
  return record;
}

StatusOr<std::vector<AgentKey>> AgentKeyStore::List() {
  return Select(db_, "list-agent-keys", "");
}

StatusOr<std::vector<AgentKey>> AgentKeyStore::ListAllowed() {
  return Select(db_, "list-allowed-agent-keys", "WHERE revoked_at IS NULL");
}

StatusOr<AgentKey> AgentKeyStore::AddInTx(pqxx::work& tx,
                                          const std::string& name,
                                          const std::string& public_key) {
  Status valid = ValidateAgentKeyName(name);
  if (valid.ok()) valid = ValidateAgentPublicKey(public_key);
  if (!valid.ok()) return valid;
  pqxx::result same_key = tx.exec_params(
      std::string(kSelect) + "WHERE public_key = $1", public_key);
  if (!same_key.empty()) {
    const AgentKey old = FromRow(same_key[0]);
    if (!old.revoked_at.empty()) {
      return Status::AlreadyExists(
          "this public key was added before (id " + std::to_string(old.id) +
              ", '" + old.name + "') and revoked at " + old.revoked_at +
              "; a revoked key is never allowed again: give the agent a new "
              "keypair (sluice-agent keygen) and add its public key",
          "public_key");
    }
    return Status::AlreadyExists(
        "this public key is already allowed, as agent key " +
            std::to_string(old.id) + " ('" + old.name + "')",
        "public_key");
  }
  pqxx::result same_name = tx.exec_params(
      "SELECT id FROM agent_keys WHERE name = $1 AND revoked_at IS NULL", name);
  if (!same_name.empty()) {
    return Status::AlreadyExists(
        "an allowed agent key is named '" + name + "' (id " +
            same_name[0][0].as<std::string>() +
            "); choose another name, or revoke that key first (DELETE "
            "/api/v1/agent-keys/{id})",
        "name");
  }
  pqxx::result rows;
  try {
    rows = tx.exec_params(
        "INSERT INTO agent_keys (name, public_key) VALUES ($1, $2) "
        "RETURNING id",
        name, public_key);
  } catch (const pqxx::unique_violation&) {
    // Another transaction added the same name or key since the checks.
    return Status::AlreadyExists(
        "an agent key with this name or public key was added at the same "
        "moment; GET /api/v1/agent-keys lists them",
        "public_key");
  }
  return ReadInTx(tx, rows[0][0].as<int64_t>());
}

StatusOr<AgentKeyStore::Revoked> AgentKeyStore::RevokeInTx(pqxx::work& tx,
                                                           int64_t id) {
  pqxx::result rows =
      tx.exec_params(std::string(kSelect) + "WHERE id = $1 FOR UPDATE", id);
  if (rows.empty()) {
    return Status::NotFound("no agent key with id " + std::to_string(id) +
                            "; GET /api/v1/agent-keys lists them");
  }
  Revoked revoked;
  revoked.before = FromRow(rows[0]);
  if (!revoked.before.revoked_at.empty()) {
    return Status::NotFound("agent key " + std::to_string(id) + " ('" +
                            revoked.before.name + "') was already revoked at " +
                            revoked.before.revoked_at);
  }
  tx.exec_params("UPDATE agent_keys SET revoked_at = now() WHERE id = $1", id);
  StatusOr<AgentKey> after = ReadInTx(tx, id);
  if (!after.ok()) return after.status();
  revoked.after = std::move(after).value();
  return revoked;
}

StatusOr<AgentKey> AgentKeyStore::Add(const std::string& name,
                                      const std::string& public_key,
                                      const Actor& actor) {
  AgentKey added;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::work tx(conn, "add-agent-key");
    StatusOr<AgentKey> key = AddInTx(tx, name, public_key);
    if (!key.ok()) return key.status();
    AuditLog::Append(tx, actor,
                     MakeAuditRecord("agent_key.create", nullptr, &*key));
    tx.commit();
    added = std::move(key).value();
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return added;
}

StatusOr<AgentKey> AgentKeyStore::Revoke(int64_t id, const Actor& actor) {
  AgentKey revoked;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::work tx(conn, "revoke-agent-key");
    StatusOr<Revoked> change = RevokeInTx(tx, id);
    if (!change.ok()) return change.status();
    AuditLog::Append(
        tx, actor,
        MakeAuditRecord("agent_key.revoke", &change->before, &change->after));
    tx.commit();
    revoked = std::move(change->after);
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return revoked;
}

}  // namespace sluice
