#pragma once
// The REST endpoints of the built-in directory (ARCHITECTURE.md §4 auth):
// users, groups and API tokens. Thin: each handler authorizes, decodes, calls
// the directory and encodes; the rules live in UserDirectory, GroupDirectory
// and TokenService.
#include <functional>

#include "group_directory.h"
#include "shared/core/clock.h"
#include "shared/http/router.h"
#include "shared/session/principal.h"
#include "token_service.h"
#include "user_directory.h"

namespace proxyos::auth {

/// Who the caller is, or ErrorException 401/403. `write` is false for reads.
/// Supplied by the service wiring (cookie or bearer token, role, CSRF).
using Authorize = std::function<session::Principal(const http::Request&, bool write)>;

/// Adds the /api/auth/users, /api/auth/groups and /api/auth/tokens routes.
/// Every handler calls `authorize` before anything else. The referenced
/// objects must outlive the router.
void addDirectoryRoutes(http::Router& router, UserDirectory& users, GroupDirectory& groups, TokenService& tokens,
                        const Clock& clock, Authorize authorize);

}  // namespace proxyos::auth
