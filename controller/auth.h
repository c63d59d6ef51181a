// Authenticator: bearer tokens for the REST API (DESIGN.md "Command lines",
// issue 5 "Access").
//
// Tokens live in api_tokens; only the SHA-256 of a token is stored (lower-
// case hex). Bootstrap() makes sure there is a way in:
//   - with SLUICE_ADMIN_TOKEN given, that token becomes the admin token
//     named "SLUICE_ADMIN_TOKEN" (replacing the hash of an earlier one);
//   - otherwise, when api_tokens is empty (the first start), it creates a
//     random admin token "bootstrap-admin", stores its hash and writes
//     "admin token: <token>" once to `out`.
//
// Authenticate() checks an Authorization header against the tokens loaded
// by Bootstrap()/Reload() (held in memory, so a check needs no database),
// comparing hashes in constant time. A later token API (issue 5) must call
// Reload() after it changes api_tokens.
//
// Thread-safe.
#pragma once

#include <ostream>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "controller/database.h"

namespace sluice {

struct Principal {
  std::string name;  // api_tokens.name
  std::string role;  // "admin", "editor" or "viewer"
};

class Authenticator {
 public:
  // `db` must outlive the authenticator.
  explicit Authenticator(Database* db) : db_(db) {}

  // See above; then Reload(). Unavailable when the database is down.
  Status Bootstrap(const std::string& env_admin_token, std::ostream& out);
  // Re-reads the unrevoked tokens.
  Status Reload();

  // `authorization` is the Authorization header's value ("Bearer <token>"),
  // empty when absent. InvalidArgument (with a message for the 401 body)
  // when it is missing, malformed, or no unrevoked token matches.
  StatusOr<Principal> Authenticate(std::string_view authorization) const;

  // Lower-case hex SHA-256 of `token`.
  static std::string HashToken(std::string_view token);
  // 32 random bytes (OpenSSL RAND_bytes) as base64url without padding.
  static StatusOr<std::string> GenerateToken();

 private:
  struct Entry {
    Principal principal;
    std::string sha256_hex;
  };

  Database* const db_;
  mutable std::shared_mutex mu_;
  std::vector<Entry> tokens_;  // GUARDED_BY(mu_)
};

}  // namespace sluice
