#include "controller/api/session_store.h"

#include <iterator>
#include <utility>

#include "controller/store/token_secret.h"

namespace sluice {

StatusOr<std::string> SessionStore::Create(int64_t token_id) {
  StatusOr<std::string> id = GenerateToken();
  if (!id.ok()) return id.status();
  const std::string hash = HashToken(id.value());
  if (rows_ != nullptr) {
    Status stored = rows_->Insert(hash, token_id, lifetime_seconds_,
                                  static_cast<int64_t>(kMaxSessions));
    if (!stored.ok()) {
      return Status::Unavailable("the session could not be stored (" +
                                 stored.message() +
                                 "); sign in again once the database is back");
    }
  }
  const int64_t now = clock_->NowNanos();
  MutexLock lock(&mu_);
  RememberLocked(
      hash, Entry{token_id, now + lifetime_seconds_ * kNanosPerSecond, now});
  return id;
}

void SessionStore::RememberLocked(const std::string& hash, Entry entry) {
  const int64_t now = entry.checked_nanos;
  // Drop the expired ones, then, when still full, the one ending first.
  for (auto it = by_hash_.begin(); it != by_hash_.end();) {
    it = it->second.expires_nanos <= now ? by_hash_.erase(it) : std::next(it);
  }
  if (by_hash_.size() >= kMaxSessions && by_hash_.count(hash) == 0) {
    auto first = by_hash_.begin();
    for (auto it = by_hash_.begin(); it != by_hash_.end(); ++it) {
      if (it->second.expires_nanos < first->second.expires_nanos) first = it;
    }
    by_hash_.erase(first);
  }
  by_hash_[hash] = entry;
}

std::optional<SessionStore::Entry> SessionStore::Remembered(
    const std::string& hash, int64_t now, bool fresh_only) const {
  MutexLock lock(&mu_);
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end() || it->second.expires_nanos <= now) {
    return std::nullopt;
  }
  if (fresh_only &&
      now - it->second.checked_nanos >= kRecheckSeconds * kNanosPerSecond) {
    return std::nullopt;
  }
  return it->second;
}

std::optional<int64_t> SessionStore::Find(std::string_view session_id) {
  if (session_id.empty()) return std::nullopt;
  const std::string hash = HashToken(session_id);
  const int64_t now = clock_->NowNanos();
  std::optional<Entry> known = Remembered(hash, now, rows_ != nullptr);
  if (known.has_value() || rows_ == nullptr) {
    if (!known.has_value()) return std::nullopt;
    return known->token_id;
  }
  StatusOr<std::optional<SessionRows::Live>> stored = rows_->Find(hash);
  if (!stored.ok()) {
    // The database is away: what was known goes on working.
    known = Remembered(hash, now, /*fresh_only=*/false);
    if (!known.has_value()) return std::nullopt;
    return known->token_id;
  }
  MutexLock lock(&mu_);
  if (!stored->has_value()) {
    by_hash_.erase(hash);
    return std::nullopt;
  }
  const SessionRows::Live& live = **stored;
  RememberLocked(
      hash,
      Entry{live.token_id, now + live.remaining_millis * kNanosPerMilli, now});
  return live.token_id;
}

void SessionStore::End(std::string_view session_id) {
  const std::string hash = HashToken(session_id);
  {
    MutexLock lock(&mu_);
    by_hash_.erase(hash);
  }
  // When the database is away the row stays until it expires; other
  // controllers may honour it until then (the browser drops the cookie).
  if (rows_ != nullptr) rows_->Delete(hash).IgnoreError();
}

void SessionStore::EndAllOf(int64_t token_id) {
  {
    MutexLock lock(&mu_);
    for (auto it = by_hash_.begin(); it != by_hash_.end();) {
      it = it->second.token_id == token_id ? by_hash_.erase(it) : std::next(it);
    }
  }
  if (rows_ != nullptr) rows_->DeleteAllOf(token_id).IgnoreError();
}

size_t SessionStore::size() const {
  MutexLock lock(&mu_);
  return by_hash_.size();
}

std::string SessionStore::FromCookieHeader(std::string_view cookie) {
  // "a=1; sluice_session=XYZ; b=2"
  size_t start = 0;
  while (start < cookie.size()) {
    size_t end = cookie.find(';', start);
    if (end == std::string_view::npos) end = cookie.size();
    std::string_view pair = cookie.substr(start, end - start);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == kCookieName) {
      std::string_view value = pair.substr(eq + 1);
      while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
      return std::string(value);
    }
    start = end + 1;
  }
  return "";
}

}  // namespace sluice
