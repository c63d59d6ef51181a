#include "controller/api/session_store.h"

#include <iterator>
#include <utility>

#include "controller/store/token_secret.h"

namespace sluice {

StatusOr<std::string> SessionStore::Create(int64_t token_id) {
  StatusOr<std::string> id = GenerateToken();
  if (!id.ok()) return id.status();
  const int64_t now = clock_->NowNanos();
  MutexLock lock(&mu_);
  // Drop the expired ones, then, when still full, the one ending first.
  for (auto it = by_hash_.begin(); it != by_hash_.end();) {
    it = it->second.expires_nanos <= now ? by_hash_.erase(it) : std::next(it);
  }
  if (by_hash_.size() >= kMaxSessions) {
    auto first = by_hash_.begin();
    for (auto it = by_hash_.begin(); it != by_hash_.end(); ++it) {
      if (it->second.expires_nanos < first->second.expires_nanos) first = it;
    }
    by_hash_.erase(first);
  }
  by_hash_[HashToken(id.value())] =
      Entry{token_id, now + lifetime_seconds_ * kNanosPerSecond};
  return id;
}

std::optional<int64_t> SessionStore::Find(std::string_view session_id) const {
  if (session_id.empty()) return std::nullopt;
  const std::string hash = HashToken(session_id);
  const int64_t now = clock_->NowNanos();
  MutexLock lock(&mu_);
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end() || it->second.expires_nanos <= now) {
    return std::nullopt;
  }
  return it->second.token_id;
}

void SessionStore::End(std::string_view session_id) {
  const std::string hash = HashToken(session_id);
  MutexLock lock(&mu_);
  by_hash_.erase(hash);
}

void SessionStore::EndAllOf(int64_t token_id) {
  MutexLock lock(&mu_);
  for (auto it = by_hash_.begin(); it != by_hash_.end();) {
    it = it->second.token_id == token_id ? by_hash_.erase(it) : std::next(it);
  }
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
