#include "controller/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <pqxx/pqxx>
#include <utility>

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

Status Authenticator::Bootstrap(const std::string& env_admin_token,
                                std::ostream& out) {
  std::string generated;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::work tx(conn, "bootstrap_token");
    tx.exec_params("SELECT pg_advisory_xact_lock($1)", kBootstrapLockKey);
    if (!env_admin_token.empty()) {
      std::string hash = HashToken(env_admin_token);
      // The same secret may already be stored under another name (say the
      // operator exported the printed bootstrap token): make that one admin.
      pqxx::result same = tx.exec_params(
          "UPDATE api_tokens SET role = 'admin', revoked_at = NULL "
          "WHERE token_sha256 = $1 RETURNING id",
          hash);
      if (same.empty()) {
        tx.exec_params(
            "INSERT INTO api_tokens (name, role, token_sha256) "
            "VALUES ($1, 'admin', $2) ON CONFLICT (name) DO UPDATE SET "
            "role = 'admin', token_sha256 = excluded.token_sha256, "
            "revoked_at = NULL, created_at = now()",
            kEnvTokenName, hash);
      }
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
    tx.exec_params(
        "INSERT INTO api_tokens (name, role, token_sha256) "
        "VALUES ($1, 'admin', $2)",
        kGeneratedTokenName, HashToken(*token));
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
  std::vector<Entry> tokens;
  Status status = db_->Run([&](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn, "load_tokens");
    pqxx::result rows = tx.exec(
        "SELECT name, role, token_sha256 FROM api_tokens "
        "WHERE revoked_at IS NULL ORDER BY id");
    tx.commit();
    tokens.clear();
    for (const pqxx::row& row : rows) {
      tokens.push_back(
          Entry{Principal{row[0].as<std::string>(), row[1].as<std::string>()},
                row[2].as<std::string>()});
    }
    return Status::Ok();
  });
  if (!status.ok()) return status;
  std::unique_lock<std::shared_mutex> lock(mu_);
  tokens_ = std::move(tokens);
  return Status::Ok();
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
