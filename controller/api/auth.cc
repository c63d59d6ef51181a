#include "controller/api/auth.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <iterator>
#include <utility>

#include "controller/store/token_secret.h"
#include "platform/log.h"

namespace sluice {
namespace {

// Longer headers are refused before hashing.
constexpr size_t kMaxTokenBytes = 512;

}  // namespace

Status Authenticator::Bootstrap(const std::string& env_admin_token,
                                std::ostream& out) {
  std::string generated;
  Status status = store_->Bootstrap(env_admin_token, &generated);
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
    ReaderMutexLock lock(&mu_);
    started = forget_epoch_;
  }
  StatusOr<std::vector<TokenStore::Credential>> credentials =
      store_->ListCredentials();
  if (!credentials.ok()) return credentials.status();
  std::vector<Entry> tokens;
  for (TokenStore::Credential& credential : *credentials) {
    tokens.push_back(Entry{std::move(credential.principal),
                           std::move(credential.sha256_hex)});
  }
  WriterMutexLock lock(&mu_);
  // A reload that read the database before a Forget() must not bring the
  // forgotten token back; one that started after it saw the revocation
  // committed, so the id need not be filtered any longer.
  for (auto it = forgotten_.begin(); it != forgotten_.end();) {
    it = it->second <= started ? forgotten_.erase(it) : std::next(it);
  }
  tokens.erase(std::remove_if(tokens.begin(), tokens.end(),
                              [this](const Entry& entry) REQUIRES(mu_) {
                                return forgotten_.count(entry.principal.id) > 0;
                              }),
               tokens.end());
  tokens_ = std::move(tokens);
  return Status::Ok();
}

void Authenticator::Forget(int64_t id) {
  WriterMutexLock lock(&mu_);
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
  ReaderMutexLock lock(&mu_);
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

StatusOr<Principal> Authenticator::Lookup(int64_t id) const {
  ReaderMutexLock lock(&mu_);
  for (const Entry& entry : tokens_) {
    if (entry.principal.id == id) return entry.principal;
  }
  return Status::NotFound(
      "the API token of this session was revoked; sign in again with a "
      "valid token");
}

}  // namespace sluice
