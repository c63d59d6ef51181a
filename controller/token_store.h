// TokenStore: API tokens in api_tokens (migrations/0001, 0002), managed by
// admins through /api/v1/tokens.
//
// Create() makes a random secret (Authenticator::GenerateToken), stores
// only its SHA-256 and returns the secret once. Revoke() sets revoked_at;
// a revoked token's name may be reused. Each change appends an audit row
// (never the secret or its hash) in the same transaction.
//
// After a change commits, the caller (AdminApi) makes the Authenticator
// forget or reload, so it takes effect at once.
//
// Thread-safe (through the Database).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "common/status.h"
#include "controller/audit_log.h"
#include "controller/auth.h"
#include "controller/database.h"

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
  // Every token, revoked ones included, by id.
  StatusOr<std::vector<TokenInfo>> List();
  // NotFound for an unknown or already revoked id; FailedPrecondition when
  // it is the last valid admin token (nobody could manage tokens after).
  StatusOr<TokenInfo> Revoke(int64_t id, const Actor& actor);

  // For other writers of api_tokens (Authenticator::Bootstrap), inside
  // their transaction: token `id` as stored (Internal when absent), and
  // its audit row ("token.create", "token.revoke", "token.restore"; before
  // or after may be null).
  static StatusOr<TokenInfo> ReadInTx(pqxx::work& tx, int64_t id);
  static void AuditInTx(pqxx::work& tx, const Actor& actor, const char* action,
                        const TokenInfo* before, const TokenInfo* after);

 private:
  Database* const db_;
};

}  // namespace sluice
