#include "controller/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <iterator>
#include <mutex>
#include <pqxx/pqxx>
#include <utility>

#include "controller/audit_log.h"
#include "controller/token_store.h"
#include "platform/log.h"

namespace sluice {
namespace {

constexpr const char* kEnvTokenName = "SLUICE_ADMIN_TOKEN";
constexpr const char* kGeneratedTokenName = "bootstrap-admin";
// Same key space as the migrator's lock, different key: "sluiceau".
constexpr int64_t kBootstrapLockKey = 0x736c7569636175;
// Longer headers are refused before hashing.
constexpr size_t kMaxTokenBytes = 512;

std::string Base64Url(const unsigned char* data, size_t size) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    uint32_t v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (size - i == 1) {
    uint32_t v = data[i] << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (size - i == 2) {
    uint32_t v = (data[i] << 16) | (data[i + 1] << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kEditor:
      return "editor";
    case Role::kAdmin:
      return "admin";
  }
  return "viewer";
}

bool ParseRole(std::string_view text, Role* out) {
  for (Role role : {Role::kViewer, Role::kEditor, Role::kAdmin}) {
    if (text == RoleName(role)) {
      *out = role;
      return true;
    }
  }
  return false;
}

std::string Authenticator::HashToken(std::string_view token) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // EVP_Digest with SHA-256 cannot fail short of memory exhaustion; an
  // empty result then matches no stored hash.
  if (EVP_Digest(token.data(), token.size(), digest, &length, EVP_sha256(),
                 nullptr) != 1) {
    return "";
  }
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

StatusOr<std::string> Authenticator::GenerateToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return Status::Internal(
        "OpenSSL RAND_bytes failed, so no admin token could be generated; "
        "set SLUICE_ADMIN_TOKEN instead");
  }
  return Base64Url(bytes, sizeof(bytes));
}

namespace {

// Makes `env_token` a valid admin token named kEnvTokenName (or keeps the
// stored token with the same secret, made admin and valid), revoking an
// earlier environment token. Audited as actor "controller".
Status BootstrapFromEnvironment(pqxx::work& tx, const std::string& env_token) {
  const Actor controller;
  const std::string hash = Authenticator::HashToken(env_token);
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

Status Authenticator::Bootstrap(const std::string& env_admin_token,
                                std::ostream& out) {
  std::string generated;
  Status status = db_->Run([&](pqxx::connection& conn) {
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
    StatusOr<TokenInfo> after =
        TokenStore::ReadInTx(tx, inserted[0][0].as<int64_t>());
    if (!after.ok()) return after.status();
    TokenStore::AuditInTx(tx, Actor(), "token.create", nullptr, &*after);
    tx.commit();
    generated = *token;
    return Status::Ok();
  });
  if (!status.ok()) return status;
  if (!generated.empty()) {
    out << "admin token: " << generated << std::endl;
    LogInfo("auth",
            "created the first admin token (\"bootstrap-admin\") and printed "
            "it once on stdout; only its hash is stored, so keep it now");
  } else if (!env_admin_token.empty()) {
    LogInfo("auth", "SLUICE_ADMIN_TOKEN is an admin token");
  }
  return Reload();
}

Status Authenticator::Reload() {
  uint64_t started;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    started = forget_epoch_;
  }
  std::vector<Entry> tokens;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn, "load_tokens");
    pqxx::result rows = tx.exec(
        "SELECT id, name, role, token_sha256 FROM api_tokens "
        "WHERE revoked_at IS NULL ORDER BY id");
    tx.commit();
    tokens.clear();
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
      tokens.push_back(Entry{std::move(principal), row[3].as<std::string>()});
    }
    return Status::Ok();
  });
  if (!status.ok()) return status;
  std::unique_lock<std::shared_mutex> lock(mu_);
  // A reload that read the database before a Forget() must not bring the
  // forgotten token back; one that started after it saw the revocation
  // committed, so the id need not be filtered any longer.
  for (auto it = forgotten_.begin(); it != forgotten_.end();) {
    it = it->second <= started ? forgotten_.erase(it) : std::next(it);
  }
  tokens.erase(std::remove_if(tokens.begin(), tokens.end(),
                              [this](const Entry& entry) {
                                return forgotten_.count(entry.principal.id) > 0;
                              }),
               tokens.end());
  tokens_ = std::move(tokens);
  return Status::Ok();
}

void Authenticator::Forget(int64_t id) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  forgotten_[id] = ++forget_epoch_;
  tokens_.erase(std::remove_if(tokens_.begin(), tokens_.end(),
                               [id](const Entry& entry) {
                                 return entry.principal.id == id;
                               }),
                tokens_.end());
}

StatusOr<Principal> Authenticator::Authenticate(
    std::string_view authorization) const {
  const std::string form =
      "send the header 'Authorization: Bearer <token>' with an API token";
  if (authorization.empty()) {
    return Status::InvalidArgument("no Authorization header; " + form);
  }
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() <= kScheme.size() ||
      !std::equal(kScheme.begin(), kScheme.end(), authorization.begin(),
                  [](char a, char b) {
                    return std::tolower(static_cast<unsigned char>(a)) ==
                           std::tolower(static_cast<unsigned char>(b));
                  })) {
    return Status::InvalidArgument(
        "the Authorization header is not a bearer token; " + form);
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty() || token.size() > kMaxTokenBytes) {
    return Status::InvalidArgument("the bearer token is empty or too long; " +
                                   form);
  }
  const std::string hash = HashToken(token);
  std::shared_lock<std::shared_mutex> lock(mu_);
  // Compare against every token, in constant time per comparison, so the
  // time taken says nothing about which hash (or how much of it) matched.
  const Entry* match = nullptr;
  for (const Entry& entry : tokens_) {
    if (entry.sha256_hex.size() == hash.size() &&
        CRYPTO_memcmp(entry.sha256_hex.data(), hash.data(), hash.size()) == 0) {
      match = &entry;
    }
  }
  if (match == nullptr) {
    return Status::InvalidArgument(
        "unknown or revoked API token; " + form +
        " (the first admin token is printed once at the controller's first "
        "start, or set with SLUICE_ADMIN_TOKEN)");
  }
  return match->principal;
}

}  // namespace sluice
