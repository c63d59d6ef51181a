#include "controller/store/token_store.h"

#include <pqxx/pqxx>
#include <utility>

#include "controller/store/token_secret.h"
#include "platform/log.h"

namespace sluice {
namespace {

constexpr const char* kSelect =
    "SELECT id, name, role, "
    "to_char(created_at AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), created_by, "
    "coalesce(to_char(revoked_at AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '') FROM api_tokens ";

StatusOr<TokenInfo> FromRow(const pqxx::row& row) {
  TokenInfo token;
  token.id = row[0].as<int64_t>();
  token.name = row[1].as<std::string>();
  if (!ParseRole(row[2].as<std::string>(), &token.role)) {
    return Status::Internal("token " + std::to_string(token.id) +
                            " has an unknown role '" +
                            row[2].as<std::string>() + "' in the database");
  }
  token.created_at = row[3].as<std::string>();
  token.created_by = row[4].as<std::string>();
  token.revoked_at = row[5].as<std::string>();
  return token;
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
         c == '/' || c == '-';
}

}  // namespace

StatusOr<TokenInfo> TokenStore::ReadInTx(pqxx::work& tx, int64_t id) {
  pqxx::result rows =
      tx.exec_params(std::string(kSelect) + "WHERE id = $1", id);
  if (rows.empty()) {
    return Status::Internal("token " + std::to_string(id) +
                            " vanished inside its own transaction");
  }
  return FromRow(rows[0]);
}

void TokenStore::AuditInTx(pqxx::work& tx, const Actor& actor,
                           const char* action, const TokenInfo* before,
                           const TokenInfo* after) {
  const TokenInfo& token = after != nullptr ? *after : *before;
  AuditRecord record;
  record.action = action;
  record.target_kind = "token";
  record.target_id = token.id;
  record.target_name = token.name;
  if (before != nullptr) record.before = TokenToJson(*before);
  if (after != nullptr) record.after = TokenToJson(*after);
  AuditLog::Append(tx, actor, record);
}

nlohmann::json TokenToJson(const TokenInfo& token) {
  return nlohmann::json{{"id", token.id},
                        {"name", token.name},
                        {"role", std::string(RoleName(token.role))},
                        {"created_at", token.created_at},
                        {"created_by", token.created_by},
                        {"revoked_at", token.revoked_at.empty()
                                           ? nlohmann::json(nullptr)
                                           : nlohmann::json(token.revoked_at)}};
}

Status ValidateTokenName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 128;
  for (char c : name) ok = ok && IsNameChar(c);
  if (ok) return Status::Ok();
  return Status::InvalidArgument(
      "name must be 1 to 128 characters of letters, digits and _ . : / -, "
      "such as \"ci-deploy\"",
      "name");
}

StatusOr<TokenStore::Created> TokenStore::Create(const std::string& name,
                                                 Role role,
                                                 const Actor& actor) {
  Status valid = ValidateTokenName(name);
  if (!valid.ok()) return valid;
  StatusOr<std::string> secret = GenerateToken();
  if (!secret.ok()) return secret.status();
  Created created;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::work tx(conn, "create-token");
    pqxx::result rows;
    try {
      rows = tx.exec_params(
          "INSERT INTO api_tokens (name, role, token_sha256, created_by) "
          "VALUES ($1, $2, $3, $4) RETURNING id",
          name, std::string(RoleName(role)), HashToken(*secret), actor.name);
    } catch (const pqxx::unique_violation&) {
      return Status::AlreadyExists(
          "a valid token named '" + name +
              "' exists; choose another name, or revoke that one first "
              "(DELETE /api/v1/tokens/{id})",
          "name");
    }
    StatusOr<TokenInfo> info = ReadInTx(tx, rows[0][0].as<int64_t>());
    if (!info.ok()) return info.status();
    AuditInTx(tx, actor, "token.create", nullptr, &*info);
    tx.commit();
    created.info = std::move(info).value();
    return Status::Ok();
  });
  if (!status.ok()) return status;
  created.secret = std::move(secret).value();
  return created;
}

StatusOr<std::vector<TokenInfo>> TokenStore::List() {
  std::vector<TokenInfo> tokens;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn, "list-tokens");
    pqxx::result rows = tx.exec(std::string(kSelect) + "ORDER BY id");
    tx.commit();
    tokens.clear();
    for (const pqxx::row& row : rows) {
      StatusOr<TokenInfo> token = FromRow(row);
      if (!token.ok()) return token.status();
      tokens.push_back(std::move(token).value());
    }
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return tokens;
}

StatusOr<TokenInfo> TokenStore::Revoke(int64_t id, const Actor& actor) {
  TokenInfo revoked;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::work tx(conn, "revoke-token");
    // Lock every valid admin token, so two concurrent revocations cannot
    // each leave the other as the "last" admin.
    tx.exec(
        "SELECT id FROM api_tokens WHERE role = 'admin' AND revoked_at IS "
        "NULL FOR UPDATE");
    pqxx::result rows =
        tx.exec_params(std::string(kSelect) + "WHERE id = $1 FOR UPDATE", id);
    if (rows.empty()) {
      return Status::NotFound("no token with id " + std::to_string(id) +
                              "; GET /api/v1/tokens lists them");
    }
    StatusOr<TokenInfo> before = FromRow(rows[0]);
    if (!before.ok()) return before.status();
    if (!before->revoked_at.empty()) {
      return Status::NotFound("token " + std::to_string(id) + " ('" +
                              before->name + "') was already revoked at " +
                              before->revoked_at);
    }
    if (before->role == Role::kAdmin) {
      int64_t admins = tx.exec1(
                             "SELECT count(*) FROM api_tokens WHERE role = "
                             "'admin' AND revoked_at IS NULL")[0]
                           .as<int64_t>();
      if (admins <= 1) {
        return Status::FailedPrecondition(
            "token " + std::to_string(id) + " ('" + before->name +
            "') is the last valid admin token; revoking it would leave "
            "nobody able to manage tokens. Create another admin token "
            "first, then revoke this one");
      }
    }
    tx.exec_params("UPDATE api_tokens SET revoked_at = now() WHERE id = $1",
                   id);
    StatusOr<TokenInfo> info = ReadInTx(tx, id);
    if (!info.ok()) return info.status();
    AuditInTx(tx, actor, "token.revoke", &*before, &*info);
    tx.commit();
    revoked = std::move(info).value();
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return revoked;
}

StatusOr<std::vector<TokenStore::Credential>> TokenStore::ListCredentials() {
  std::vector<Credential> credentials;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn, "load_tokens");
    pqxx::result rows = tx.exec(
        "SELECT id, name, role, token_sha256 FROM api_tokens "
        "WHERE revoked_at IS NULL ORDER BY id");
    tx.commit();
    credentials.clear();
    for (const pqxx::row& row : rows) {
      Principal principal;
      principal.id = row[0].as<int64_t>();
      principal.name = row[1].as<std::string>();
      if (!ParseRole(row[2].as<std::string>(), &principal.role)) {
        // The schema's CHECK makes this impossible; refuse the token
        // rather than guess a role.
        LogWarn("auth", "token " + principal.name + " has an unknown role '" +
                            row[2].as<std::string>() + "'; it is ignored");
        continue;
      }
      credentials.push_back(
          Credential{std::move(principal), row[3].as<std::string>()});
    }
    return Status::Ok();
  });
  if (!status.ok()) return status;
  return credentials;
}

}  // namespace sluice
