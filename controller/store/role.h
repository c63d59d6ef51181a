// Role and Principal: who an API token belongs to and what it may do.
//
// Plain values and pure functions; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

// What a token may do; each role includes the ones before it.
enum class Role { kViewer = 1, kEditor = 2, kAdmin = 3 };

std::string_view RoleName(Role role);  // "viewer", "editor", "admin"
bool ParseRole(std::string_view text, Role* out);
// Whether `held` is `needed` or higher.
inline bool RoleAllows(Role held, Role needed) {
  return static_cast<int>(held) >= static_cast<int>(needed);
}

// The holder of a valid token.
struct Principal {
  int64_t id = 0;    // api_tokens.id
  std::string name;  // api_tokens.name
  Role role = Role::kViewer;
};

}  // namespace sluice
