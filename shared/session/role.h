#pragma once
#include <optional>
#include <string>

namespace proxyos::session {

/// admin: read/write the admin APIs; viewer: read them; user: SSO only.
enum class Role { Admin, Viewer, User };

std::string roleName(Role role);
std::optional<Role> parseRole(const std::string& name);
inline bool canReadAdminApi(Role r) { return r == Role::Admin || r == Role::Viewer; }
inline bool canWriteAdminApi(Role r) { return r == Role::Admin; }

}  // namespace proxyos::session
