#include "shared/tls/acme_jws.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "shared/crypto/base64url.h"

namespace proxyos::tls::acme {
namespace {

constexpr std::string_view kAcmeErrorPrefix = "urn:ietf:params:acme:error:";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<std::string> signJws(const PrivateKey& key, std::string_view url, std::string_view nonce, std::string_view kid,
                            const std::optional<std::string>& payloadJson) {
  using nlohmann::json;
  json header = {{"alg", "ES256"}, {"nonce", std::string(nonce)}, {"url", std::string(url)}};
  if (kid.empty()) {
    header["jwk"] = json::parse(key.publicJwk());
  } else {
    header["kid"] = std::string(kid);
  }
  const std::string protected64 = crypto::base64UrlEncode(header.dump());
  const std::string payload64 = payloadJson ? crypto::base64UrlEncode(*payloadJson) : std::string();
  auto signature = key.signEs256(protected64 + "." + payload64);
  if (!signature) return signature.error();
  json jws = {
      {"protected", protected64}, {"payload", payload64}, {"signature", crypto::base64UrlEncode(signature.value())}};
  return jws.dump();
}

std::string Problem::describe() const {
  std::string out = type.empty() ? std::string("(no type)") : type;
  if (!detail.empty()) out += ": " + detail;
  return out;
}

bool Problem::is(std::string_view acmeError) const {
  return type.size() == kAcmeErrorPrefix.size() + acmeError.size() && type.starts_with(kAcmeErrorPrefix) &&
         std::string_view(type).substr(kAcmeErrorPrefix.size()) == acmeError;
}

std::optional<Problem> parseProblem(std::string_view body) {
  auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return std::nullopt;
  auto type = doc.find("type");
  if (type == doc.end() || !type->is_string()) return std::nullopt;
  Problem problem;
  problem.type = type->get<std::string>();
  if (auto d = doc.find("detail"); d != doc.end() && d->is_string()) problem.detail = d->get<std::string>();
  if (auto s = doc.find("status"); s != doc.end() && s->is_number_integer()) problem.status = s->get<int>();
  return problem;
}

std::optional<std::chrono::milliseconds> parseRetryAfter(std::string_view value,
                                                         std::chrono::system_clock::time_point now) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  bool digits = true;
  for (char c : value) digits = digits && c >= '0' && c <= '9';
  if (digits) {
    if (value.size() > 9) return std::nullopt;  // more than 30 years: garbage
    return std::chrono::seconds(std::stol(std::string(value)));
  }
  // IMF-fixdate, the only date form RFC 9110 asks senders to use.
  std::tm tm{};
  const std::string text(value);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  const auto at = std::chrono::system_clock::from_time_t(timegm(&tm));
  if (at <= now) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(at - now);
}

}  // namespace proxyos::tls::acme
