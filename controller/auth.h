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
// comparing hashes in constant time. The token API (controller/token_store.h)
// calls Forget() and Reload() right after it commits a change, so a revoked
// token stops working at once in this process; other controllers pick the
// change up at their next periodic Reload().
//
// Bootstrap() records what it changes in the audit log, as actor
// "controller".
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "controller/database.h"

namespace sluice {

// What a token may do; each role includes the ones before it.
enum class Role { kViewer = 1, kEditor = 2, kAdmin = 3 };

std::string_view RoleName(Role role);  // "viewer", "editor", "admin"
bool ParseRole(std::string_view text, Role* out);
// Whether `held` is `needed` or higher.
inline bool RoleAllows(Role held, Role needed) {
  return static_cast<int>(held) >= static_cast<int>(needed);
}

struct Principal {
  int64_t id = 0;    // api_tokens.id
  std::string name;  // api_tokens.name
  Role role = Role::kViewer;
};

class Authenticator {
 public:
  // `db` must outlive the authenticator.
  explicit Authenticator(Database* db) : db_(db) {}

  // See above; then Reload(). Unavailable when the database is down.
  Status Bootstrap(const std::string& env_admin_token, std::ostream& out);
  // Re-reads the unrevoked tokens.
  Status Reload();
  // Stops accepting token `id` at once, without the database (a revocation
  // just committed; a Reload() that fails afterwards cannot bring it back,
  // since the database no longer lists it).
  void Forget(int64_t id);

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
  // Forget() calls so far, and each forgotten id with the count at its
  // Forget(): a Reload() that started before then filters the id out.
  uint64_t forget_epoch_ = 0;              // GUARDED_BY(mu_)
  std::map<int64_t, uint64_t> forgotten_;  // GUARDED_BY(mu_)
};

}  // namespace sluice
