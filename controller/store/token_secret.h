// Token secrets: how an API token is made and how it is stored.
//
// Only the SHA-256 of a token is ever stored (lower-case hex); a new token
// is 32 random bytes from OpenSSL, as base64url without padding.
//
// Thread-safe (stateless).
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice {

// Lower-case hex SHA-256 of `token`.
std::string HashToken(std::string_view token);
// 32 random bytes (OpenSSL RAND_bytes) as base64url without padding;
// Internal when the random source fails.
StatusOr<std::string> GenerateToken();

}  // namespace sluice
