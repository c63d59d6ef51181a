// TokenStore::Bootstrap: making sure there is a way in (token_store.h).
#include <pqxx/pqxx>

#include "controller/store/audit_log.h"
#include "controller/store/token_secret.h"
#include "controller/store/token_store.h"

namespace sluice {
namespace {

constexpr const char* kEnvTokenName = "SLUICE_ADMIN_TOKEN";
constexpr const char* kGeneratedTokenName = "bootstrap-admin";
// Same key space as the migrator's lock, different key: "sluiceau".
constexpr int64_t kBootstrapLockKey = 0x736c7569636175;

// Makes `env_token` a valid admin token named kEnvTokenName (or keeps the
// stored token with the same secret, made admin and valid), revoking an
// earlier environment token. Audited as actor "controller".
Status BootstrapFromEnvironment(pqxx::work& tx, const std::string& env_token) {
  const Actor controller;  // audited as "controller"
  const std::string hash = HashToken(env_token);
  pqxx::result same = tx.exec_params(
      "SELECT id, name, role = 'admin' AND revoked_at IS NULL "
      "FROM api_tokens WHERE token_sha256 = $1",
      hash);
  if (!same.empty() && same[0][2].as<bool>()) return Status::Ok();
  // Free the name the token will carry: revoke whichever valid token has it.
  const std::string name =
      same.empty() ? kEnvTokenName : same[0][1].as<std::string>();
  const int64_t keep = same.empty() ? 0 : same[0][0].as<int64_t>();
  pqxx::result holders = tx.exec_params(
      "SELECT id FROM api_tokens WHERE name = $1 AND revoked_at IS NULL "
      "AND id <> $2 FOR UPDATE",
      name, keep);
  for (const pqxx::row& holder : holders) {
    const int64_t id = holder[0].as<int64_t>();
    StatusOr<TokenInfo> before = TokenStore::ReadInTx(tx, id);
    if (!before.ok()) return before.status();
    tx.exec_params("UPDATE api_tokens SET revoked_at = now() WHERE id = $1",
                   id);
    StatusOr<TokenInfo> after = TokenStore::ReadInTx(tx, id);
    if (!after.ok()) return after.status();
    TokenStore::AuditInTx(tx, controller, "token.revoke", &*before, &*after);
  }
  if (keep != 0) {
    // The operator exported a stored token (say the printed bootstrap
    // one): make that one a valid admin token.
    StatusOr<TokenInfo> before = TokenStore::ReadInTx(tx, keep);
    if (!before.ok()) return before.status();
    tx.exec_params(
        "UPDATE api_tokens SET role = 'admin', revoked_at = NULL "
        "WHERE id = $1",
        keep);
    StatusOr<TokenInfo> after = TokenStore::ReadInTx(tx, keep);
    if (!after.ok()) return after.status();
    TokenStore::AuditInTx(tx, controller, "token.restore", &*before, &*after);
    return Status::Ok();
  }
  pqxx::result inserted = tx.exec_params(
      "INSERT INTO api_tokens (name, role, token_sha256) "
      "VALUES ($1, 'admin', $2) RETURNING id",
      kEnvTokenName, hash);
  StatusOr<TokenInfo> after =
      TokenStore::ReadInTx(tx, inserted[0][0].as<int64_t>());
  if (!after.ok()) return after.status();
  TokenStore::AuditInTx(tx, controller, "token.create", nullptr, &*after);
  return Status::Ok();
}

}  // namespace

Status TokenStore::Bootstrap(const std::string& env_admin_token,
                             std::string* generated) {
  generated->clear();
  return db_->Run([&](pqxx::connection& conn) {
    pqxx::work tx(conn, "bootstrap_token");
    tx.exec_params("SELECT pg_advisory_xact_lock($1)", kBootstrapLockKey);
    if (!env_admin_token.empty()) {
      Status done = BootstrapFromEnvironment(tx, env_admin_token);
      if (!done.ok()) return done;
      tx.commit();
      return Status::Ok();
    }
    int64_t count =
        tx.exec1("SELECT count(*) FROM api_tokens")[0].as<int64_t>();
    if (count > 0) {
      tx.commit();
      return Status::Ok();
    }
    StatusOr<std::string> token = GenerateToken();
    if (!token.ok()) return token.status();
    pqxx::result inserted = tx.exec_params(
        "INSERT INTO api_tokens (name, role, token_sha256) "
        "VALUES ($1, 'admin', $2) RETURNING id",
        kGeneratedTokenName, HashToken(*token));
    StatusOr<TokenInfo> after = ReadInTx(tx, inserted[0][0].as<int64_t>());
    if (!after.ok()) return after.status();
    AuditInTx(tx, Actor(), "token.create", nullptr, &*after);
    tx.commit();
    *generated = *token;
    return Status::Ok();
  });
}

}  // namespace sluice
