#pragma once
// Logs a test in without the auth service: writes a real session into Redis
// and signs the cookie with the same secret, exactly as auth does.
#include <chrono>
#include <string>
#include <vector>

#include "shared/session/role.h"

namespace proxyos::testing {

/// Returns "proxyos_session=<cookie>" for a Cookie header.
/// `ttl` 0 = the normal lifetime; a few seconds to test expiry.
std::string issueSessionCookie(const std::string& redisUrl, const std::string& secret, session::Role role,
                               const std::string& username = "tester", std::vector<std::string> groups = {},
                               std::chrono::seconds ttl = std::chrono::seconds(0));

}  // namespace proxyos::testing
