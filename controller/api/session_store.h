// SessionStore: the dashboard's sign-in sessions (docs/dashboard.md). A
// person exchanges an API token for a session (POST /api/v1/session); the
// session id goes back in an HttpOnly cookie and authenticates like the
// token it came from, with its role, until the session's lifetime passes,
// the person signs out, or the token is revoked (the caller checks the
// token on every request, so a revoked token ends its sessions at once).
//
// Only the SHA-256 of each session id is kept. With SessionRows (the
// controller's case) sessions live in the database, so every controller
// sharing it honours them and they outlive a restart; memory holds what
// was seen recently. A remembered session is trusted for kRecheckSeconds,
// then looked up again (a sign-out on another controller takes effect
// within that time); while the database is away, remembered sessions go on
// working and new sign-ins fail (Unavailable). Without SessionRows (tests)
// sessions are in memory only. At most kMaxSessions are remembered (and
// stored) at once; past that the one closest to its end is dropped.
//
// Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "controller/store/session_rows.h"
#include "platform/mutex.h"

namespace sluice {

class SessionStore {
 public:
  static constexpr size_t kMaxSessions = 10000;
  static constexpr int64_t kDefaultLifetimeSeconds = 12 * 3600;
  static constexpr int64_t kRecheckSeconds = 10;
  // The cookie's name.
  static constexpr std::string_view kCookieName = "sluice_session";

  // `clock` and `rows` (null: memory only) must outlive the store.
  explicit SessionStore(const Clock* clock, SessionRows* rows = nullptr,
                        int64_t lifetime_seconds = kDefaultLifetimeSeconds)
      : clock_(clock), rows_(rows), lifetime_seconds_(lifetime_seconds) {}

  int64_t lifetime_seconds() const { return lifetime_seconds_; }

  // A new session for API token `token_id`: its id (base64url of 32 bytes from
  // the system's random source). Internal when no random bytes are
  // available; Unavailable when the database cannot store it.
  StatusOr<std::string> Create(int64_t token_id) EXCLUDES(mu_);
  // The token of a live session, or nothing (unknown, ended or expired).
  std::optional<int64_t> Find(std::string_view session_id) EXCLUDES(mu_);
  // Ends one session (no-op when unknown).
  void End(std::string_view session_id) EXCLUDES(mu_);
  // Ends every session of a token (after its revocation).
  void EndAllOf(int64_t token_id) EXCLUDES(mu_);
  size_t size() const EXCLUDES(mu_);

  // The session id in a Cookie header's value, or "" when there is none.
  static std::string FromCookieHeader(std::string_view cookie);

 private:
  struct Entry {
    int64_t token_id = 0;
    int64_t expires_nanos = 0;
    int64_t checked_nanos = 0;  // when the database last vouched for it
  };
  void RememberLocked(const std::string& hash, Entry entry) REQUIRES(mu_);
  // The remembered entry when it needs no lookup (or the lookup failed).
  std::optional<Entry> Remembered(const std::string& hash, int64_t now,
                                  bool fresh_only) const EXCLUDES(mu_);

  const Clock* const clock_;
  SessionRows* const rows_;
  const int64_t lifetime_seconds_;
  mutable Mutex mu_;
  std::map<std::string, Entry> by_hash_ GUARDED_BY(mu_);
};

}  // namespace sluice
