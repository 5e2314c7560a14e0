#include "shared/session/cookie_codec.h"

#include "shared/crypto/base64url.h"
#include "shared/crypto/constant_time.h"
#include "shared/crypto/hmac.h"
#include "shared/crypto/random.h"

namespace proxyos::session {

namespace {
std::string mac(const std::string& secret, std::string_view kid, std::string_view token) {
  std::string signed_;
  signed_.reserve(kid.size() + 1 + token.size());
  signed_.append(kid).append(".").append(token);
  return crypto::base64UrlEncode(crypto::hmacSha256(secret, signed_));
}
}  // namespace

std::string newToken() { return crypto::randomToken(32); }

std::string encodeCookie(const SigningKeys& keys, const std::string& token) {
  return keys.currentKid() + "." + token + "." + mac(keys.currentSecret(), keys.currentKid(), token);
}

DecodedCookie decodeCookie(const SigningKeys& keys, std::string_view value) {
  DecodedCookie out;
  const auto d1 = value.find('.');
  const auto d2 = d1 == std::string_view::npos ? d1 : value.find('.', d1 + 1);
  if (d1 == std::string_view::npos || d2 == std::string_view::npos || value.find('.', d2 + 1) != std::string_view::npos)
    return out;
  const auto kid = value.substr(0, d1), token = value.substr(d1 + 1, d2 - d1 - 1), tag = value.substr(d2 + 1);
  // 32-byte token and 32-byte MAC are both 43 base64url characters.
  if (kid.size() != 8 || token.size() != 43 || tag.size() != 43 || !crypto::base64UrlDecode(token) ||
      !crypto::base64UrlDecode(tag))
    return out;
  out.kid = std::string(kid);
  const std::string* secret = keys.secretFor(out.kid);
  if (secret == nullptr) {
    out.check = DecodedCookie::Check::UnknownKid;
    return out;
  }
  if (!crypto::constantTimeEquals(mac(*secret, kid, token), tag)) {
    out.check = DecodedCookie::Check::BadMac;
    return out;
  }
  out.token = std::string(token);
  out.check = out.kid == keys.currentKid() ? DecodedCookie::Check::Valid : DecodedCookie::Check::ValidPrevious;
  return out;
}

std::optional<std::string> cookieFromHeader(std::string_view header, std::string_view name) {
  size_t pos = 0;
  while (pos < header.size()) {
    auto end = header.find(';', pos);
    if (end == std::string_view::npos) end = header.size();
    auto part = header.substr(pos, end - pos);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    const auto eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == name) {
      auto v = part.substr(eq + 1);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return std::string(v);
    }
    pos = end + 1;
  }
  return std::nullopt;
}

std::string setCookieHeader(std::string_view value, const CookieAttributes& a) {
  std::string h = std::string(kCookieName) + "=" + std::string(value) + "; Path=/; HttpOnly; SameSite=Lax";
  if (a.secure) h += "; Secure";
  if (!a.domain.empty()) h += "; Domain=" + a.domain;
  if (a.maxAge.count() > 0) h += "; Max-Age=" + std::to_string(a.maxAge.count());
  return h;
}

std::string clearCookieHeader(const CookieAttributes& a) {
  std::string h = std::string(kCookieName) + "=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0";
  if (a.secure) h += "; Secure";
  if (!a.domain.empty()) h += "; Domain=" + a.domain;
  return h;
}

}  // namespace proxyos::session
