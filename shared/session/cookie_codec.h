#pragma once
// The proxyos_session cookie: <kid>.<token>.<mac> (ARCHITECTURE.md §3).
// token: 32 random bytes, base64url; kid: keyId(secret);
// mac: base64url(HMAC-SHA256(secret, "<kid>.<token>")).
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "shared/session/signing_keys.h"

namespace proxyos::session {

inline constexpr const char* kCookieName = "proxyos_session";

/// A new random session token (32 bytes, base64url).
std::string newToken();
/// Signs `token` with the current secret.
std::string encodeCookie(const SigningKeys& keys, const std::string& token);

struct DecodedCookie {
  enum class Check {
    Valid,          // signed by the current secret
    ValidPrevious,  // signed by a previous secret: valid, re-issue under the current one
    Malformed,
    UnknownKid,     // no configured secret has this kid (e.g. rotated out)
    BadMac,         // forged or corrupted
  };
  Check check = Check::Malformed;
  std::string kid;
  std::string token;  // set only when the MAC verified
};
/// Verifies the MAC in constant time. Never touches any store.
DecodedCookie decodeCookie(const SigningKeys& keys, std::string_view value);

/// The value of cookie `name` in a Cookie request header, if present.
std::optional<std::string> cookieFromHeader(std::string_view cookieHeader, std::string_view name);

struct CookieAttributes {
  bool secure = false;        // exactly when PROXYOS_URL is https
  std::string domain;         // PROXYOS_COOKIE_DOMAIN, "" = host-only
  std::chrono::seconds maxAge{0};  // 0 = session cookie
};
/// One Set-Cookie value: HttpOnly; SameSite=Lax; Path=/; [Secure]; [Domain]; [Max-Age].
std::string setCookieHeader(std::string_view value, const CookieAttributes& attrs);
/// A Set-Cookie value that deletes the cookie (same Path/Domain, Max-Age=0).
std::string clearCookieHeader(const CookieAttributes& attrs);

}  // namespace proxyos::session
