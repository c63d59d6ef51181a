// TokenStore: API tokens in api_tokens (migrations/0001, 0002), managed by
// admins through /api/v1/tokens.
//
// Create() makes a random secret (GenerateToken, token_secret.h), stores
// only its SHA-256 and returns the secret once. Revoke() sets revoked_at;
// a revoked token's name may be reused. Each change appends an audit row
// (never the secret or its hash) in the same transaction.
//
// After a change commits, the caller (AdminApi) makes the Authenticator
// (controller/api/auth.h) forget or reload, so it takes effect at once.
//
// Bootstrap() makes sure there is a way in:
//   - with SLUICE_ADMIN_TOKEN given (`env_admin_token`), that token becomes
//     the admin token named "SLUICE_ADMIN_TOKEN" (replacing the hash of an
//     earlier one, or reviving a stored token with the same secret);
//   - otherwise, when api_tokens is empty (the first start), it creates a
//     random admin token "bootstrap-admin", stores its hash and returns the
//     secret in `generated` (empty otherwise), for the caller to show once.
// It records what it changes in the audit log, as actor "controller", and
// holds an advisory lock so controllers starting together agree.
//
// Thread-safe (through the Database).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "common/status.h"
#include "controller/store/audit_log.h"
#include "controller/store/database.h"
#include "controller/store/role.h"

namespace sluice {

struct TokenInfo {
  int64_t id = 0;
  std::string name;
  Role role = Role::kViewer;
  std::string created_at;  // RFC 3339 UTC
  std::string created_by;  // the creating token's name, or "controller"
  std::string revoked_at;  // RFC 3339 UTC; empty while valid
};

// {"id", "name", "role", "created_at", "created_by", "revoked_at"|null}:
// the API's and the audit log's form; never the secret or its hash.
nlohmann::json TokenToJson(const TokenInfo& token);

// Token names follow rule names: 1..128 of [A-Za-z0-9_.:/-].
Status ValidateTokenName(const std::string& name);

class TokenStore {
 public:
  // `db` must outlive this.
  explicit TokenStore(Database* db) : db_(db) {}

  struct Created {
    TokenInfo info;
    std::string secret;  // shown once
  };
  // AlreadyExists (field "name") when a valid token has the name.
  StatusOr<Created> Create(const std::string& name, Role role,
                           const Actor& actor);
  // See above. Unavailable when the database is down.
  Status Bootstrap(const std::string& env_admin_token, std::string* generated);

  // A valid (unrevoked) token as the Authenticator checks it.
  struct Credential {
    Principal principal;
    std::string sha256_hex;
  };
  // Every valid token, by id.
  StatusOr<std::vector<Credential>> ListCredentials();

  // Every token, revoked ones included, by id.
  StatusOr<std::vector<TokenInfo>> List();
  // NotFound for an unknown or already revoked id; FailedPrecondition when
  // it is the last valid admin token (nobody could manage tokens after).
  StatusOr<TokenInfo> Revoke(int64_t id, const Actor& actor);

  // For writers of api_tokens (Bootstrap), inside their transaction: token `id`
  // as stored (Internal when absent), and its audit row ("token.create",
  // "token.revoke", "token.restore"; before or after may be null).
  static StatusOr<TokenInfo> ReadInTx(pqxx::work& tx, int64_t id);
  static void AuditInTx(pqxx::work& tx, const Actor& actor, const char* action,
                        const TokenInfo* before, const TokenInfo* after);

 private:
  Database* const db_;
};

}  // namespace sluice
