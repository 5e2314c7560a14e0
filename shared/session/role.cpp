#include "shared/session/role.h"

namespace proxyos::session {

std::string roleName(Role role) {
  switch (role) {
    case Role::Admin: return "admin";
    case Role::Viewer: return "viewer";
    case Role::User: return "user";
  }
  return "user";
}

std::optional<Role> parseRole(const std::string& name) {
  if (name == "admin") return Role::Admin;
  if (name == "viewer") return Role::Viewer;
  if (name == "user") return Role::User;
  return std::nullopt;
}

}  // namespace proxyos::session
