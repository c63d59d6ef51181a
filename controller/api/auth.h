// Authenticator: bearer tokens for the REST API.
//
// Authenticate() checks an Authorization header against the valid tokens
// loaded by Bootstrap()/Reload() from the TokenStore (held in memory, so a
// check needs no database), comparing hashes in constant time. After the
// token API commits a change it calls Forget() and Reload(), so a revoked
// token stops working at once in this process; other controllers pick the
// change up at their next periodic Reload().
//
// Bootstrap() runs TokenStore::Bootstrap() (SLUICE_ADMIN_TOKEN, or a first
// admin token printed once as "admin token: <token>" on `out`), then
// Reload().
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "controller/store/role.h"
#include "controller/store/token_store.h"
#include "platform/mutex.h"

namespace sluice {

class Authenticator {
 public:
  // `store` must outlive the authenticator.
  explicit Authenticator(TokenStore* store) : store_(store) {}

  // See above. Unavailable when the database is down.
  Status Bootstrap(const std::string& env_admin_token, std::ostream& out);
  // Re-reads the unrevoked tokens.
  Status Reload() EXCLUDES(mu_);
  // Stops accepting token `id` at once, without the database (a revocation
  // just committed; a Reload() that fails afterwards cannot bring it back,
  // since the database no longer lists it).
  void Forget(int64_t id) EXCLUDES(mu_);

  // `authorization` is the Authorization header's value ("Bearer <token>"),
  // empty when absent. InvalidArgument (with a message for the 401 body)
  // when it is missing, malformed, or no unrevoked token matches.
  StatusOr<Principal> Authenticate(std::string_view authorization) const
      EXCLUDES(mu_);
  // The holder of token `id` while it is valid (a dashboard session checks
  // its token on every request); NotFound once it is revoked or unknown.
  StatusOr<Principal> Lookup(int64_t id) const EXCLUDES(mu_);

 private:
  struct Entry {
    Principal principal;
    std::string sha256_hex;
  };

  TokenStore* const store_;
  mutable SharedMutex mu_;
  std::vector<Entry> tokens_ GUARDED_BY(mu_);
  // Forget() calls so far, and each forgotten id with the count at its
  // Forget(): a Reload() that started before then filters the id out.
  uint64_t forget_epoch_ GUARDED_BY(mu_) = 0;
  std::map<int64_t, uint64_t> forgotten_ GUARDED_BY(mu_);
};

}  // namespace sluice
