#pragma once
#include <optional>
#include <string>

#include "shared/core/error.h"
#include "shared/session/role.h"

namespace proxyos::session {

/// Who is calling an admin API.
struct Principal {
  enum class Via { Cookie, Token };
  std::string userId;
  std::string username;
  Role role = Role::User;
  Via via = Via::Cookie;
  std::string sessionId;  // when Via::Cookie
  std::string tokenId;    // when Via::Token
};

/// API tokens look like "pxat_<id>.<secret>": the id finds the stored token,
/// the secret is compared (hashed, constant time). Only the auth service owns
/// the tokens bucket; other services verify through it.
class TokenVerifier {
 public:
  virtual ~TokenVerifier() = default;
  /// nullopt for an unknown, revoked, expired or wrong token; Unavailable when
  /// the verifier cannot answer (fail closed).
  virtual Result<std::optional<Principal>> verify(const std::string& bearerToken) = 0;
};

inline constexpr const char* kTokenPrefix = "pxat_";

}  // namespace proxyos::session
