#include "controller/store/role.h"

namespace sluice {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kEditor:
      return "editor";
    case Role::kAdmin:
      return "admin";
  }
  return "viewer";
}

bool ParseRole(std::string_view text, Role* out) {
  for (Role role : {Role::kViewer, Role::kEditor, Role::kAdmin}) {
    if (text == RoleName(role)) {
      *out = role;
      return true;
    }
  }
  return false;
}

}  // namespace sluice
