#pragma once
// How ProxyOS services call each other's admin APIs (reads only: "does this
// provider exist", "which routes use it"). A service token is
//   pxsvc_<service>.<expiry unix seconds>.<base64url(HMAC-SHA256(secret, "proxyos-service:<service>.<expiry>"))>
// signed with PROXYOS_SECRET, valid for a minute, and grants the viewer role.
// Every service already holds the secret, so no token store is involved.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "shared/core/clock.h"
#include "shared/session/principal.h"
#include "shared/session/signing_keys.h"

namespace proxyos::session {

inline constexpr const char* kServiceTokenPrefix = "pxsvc_";

std::string issueServiceToken(const SigningKeys& keys, const std::string& service, Clock::WallTime now,
                              std::chrono::seconds ttl = std::chrono::seconds(60));
/// The caller as a viewer principal ("service:<name>"), or nullopt.
std::optional<Principal> verifyServiceToken(const SigningKeys& keys, std::string_view token, Clock::WallTime now);

/// Accepts service tokens itself and hands every other bearer token to `next`.
class ServiceAwareTokenVerifier final : public TokenVerifier {
 public:
  ServiceAwareTokenVerifier(const SigningKeys& keys, const Clock& clock, TokenVerifier& next)
      : keys_(keys), clock_(clock), next_(next) {}
  Result<std::optional<Principal>> verify(const std::string& bearerToken) override;

 private:
  const SigningKeys& keys_;
  const Clock& clock_;
  TokenVerifier& next_;
};

}  // namespace proxyos::session
