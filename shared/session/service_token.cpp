#include "shared/session/service_token.h"

#include <charconv>

#include "shared/crypto/base64url.h"
#include "shared/crypto/constant_time.h"
#include "shared/crypto/hmac.h"

namespace proxyos::session {

namespace {
std::string mac(const std::string& secret, std::string_view service, std::string_view expiry) {
  std::string msg = "proxyos-service:";
  msg.append(service).append(".").append(expiry);
  return crypto::base64UrlEncode(crypto::hmacSha256(secret, msg));
}
int64_t unixSeconds(Clock::WallTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}
}  // namespace

std::string issueServiceToken(const SigningKeys& keys, const std::string& service, Clock::WallTime now,
                              std::chrono::seconds ttl) {
  const std::string expiry = std::to_string(unixSeconds(now + ttl));
  return kServiceTokenPrefix + service + "." + expiry + "." + mac(keys.currentSecret(), service, expiry);
}

std::optional<Principal> verifyServiceToken(const SigningKeys& keys, std::string_view token, Clock::WallTime now) {
  if (token.rfind(kServiceTokenPrefix, 0) != 0) return std::nullopt;
  token.remove_prefix(std::string_view(kServiceTokenPrefix).size());
  const auto d1 = token.find('.');
  const auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d1 == std::string_view::npos || d2 == std::string_view::npos) return std::nullopt;
  const auto service = token.substr(0, d1), expiry = token.substr(d1 + 1, d2 - d1 - 1), tag = token.substr(d2 + 1);
  if (service.empty() || service.size() > 64) return std::nullopt;
  int64_t exp = 0;
  auto [p, ec] = std::from_chars(expiry.data(), expiry.data() + expiry.size(), exp);
  if (ec != std::errc() || p != expiry.data() + expiry.size() || exp < unixSeconds(now)) return std::nullopt;
  // Any configured secret verifies, so a rotation does not break calls in flight.
  for (const std::string* secret : keys.secrets()) {
    if (crypto::constantTimeEquals(mac(*secret, service, expiry), tag))
      return Principal{"service:" + std::string(service), "service:" + std::string(service), Role::Viewer,
                       Principal::Via::Token, "", ""};
  }
  return std::nullopt;
}

Result<std::optional<Principal>> ServiceAwareTokenVerifier::verify(const std::string& bearerToken) {
  if (bearerToken.rfind(kServiceTokenPrefix, 0) == 0) return verifyServiceToken(keys_, bearerToken, clock_.now());
  return next_.verify(bearerToken);
}

}  // namespace proxyos::session
