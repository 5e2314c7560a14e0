#include "token_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "shared/core/id.h"
#include "shared/core/time_format.h"
#include "shared/crypto/base64url.h"
#include "shared/crypto/constant_time.h"
#include "shared/crypto/random.h"
#include "shared/crypto/sha256.h"
#include "shared/model/json_reader.h"
#include "shared/model/user.h"

namespace proxyos::auth {

namespace {

constexpr std::chrono::minutes kLastUsedResolution{1};
constexpr size_t kSecretBytes = 32;
constexpr size_t kMaxSecretChars = 128;

struct StoredToken {
  model::ApiToken token;
  std::string secretHash;
};

std::string encodeStored(const model::ApiToken& t, const std::string& secretHash) {
  auto j = model::toJson(t);
  j.erase("revision");
  j["secretHash"] = secretHash;
  return j.dump();
}

std::optional<StoredToken> decodeStored(const store::KvEntry& e) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(e.value);
  } catch (const nlohmann::json::parse_error&) {
    spdlog::error("stored token {} is not JSON", e.key);
    return std::nullopt;
  }
  StoredToken s;
  if (j.is_object() && j.contains("secretHash")) {
    if (j["secretHash"].is_string()) s.secretHash = j["secretHash"].get<std::string>();
    j.erase("secretHash");
  }
  auto t = model::decodeApiToken(j);
  if (!t) {
    spdlog::error("stored token {} does not decode: {}", e.key, t.error().message);
    return std::nullopt;
  }
  s.token = std::move(t.value());
  s.token.id = e.key.substr(std::string("token.").size());
  s.token.revision = e.revision;
  return s;
}

// Splits "pxat_<id>.<secret>"; nullopt for anything else. The checks are
// cheap and bound the work an attacker can cause before a store read.
std::optional<std::pair<std::string, std::string>> parseBearer(const std::string& bearer) {
  const std::string prefix = session::kTokenPrefix;
  if (bearer.size() > prefix.size() + 64 + 1 + kMaxSecretChars || bearer.rfind(prefix, 0) != 0) return std::nullopt;
  const auto dot = bearer.find('.', prefix.size());
  if (dot == std::string::npos) return std::nullopt;
  std::string id = bearer.substr(prefix.size(), dot - prefix.size());
  std::string secret = bearer.substr(dot + 1);
  if (!isValidId(id) || secret.empty() || !crypto::base64UrlDecode(secret)) return std::nullopt;
  return std::make_pair(std::move(id), std::move(secret));
}

Error storeUnavailable(const Error& cause) {
  if (cause.kind == ErrorKind::Unavailable) return cause;
  return Error::make(ErrorKind::Unavailable, "token_store_unavailable", "cannot verify tokens: " + cause.message);
}

}  // namespace

std::string tokenKey(const std::string& id) { return "token." + id; }

Result<CreatedToken> TokenService::create(const std::string& name, const std::string& role,
                                          const std::string& creatorUserId, std::optional<int64_t> expiresInDays) {
  model::ErrorCollector errors;
  if (name.empty())
    errors.add("name", "required", "is required");
  else
    model::validateText(name, model::kMaxTokenNameChars, "name", errors);
  model::validateRoleName(role, "role", errors);
  if (expiresInDays && (*expiresInDays < 1 || *expiresInDays > model::kMaxTokenDays))
    errors.add("expiresInDays", "invalid_value", "must be 1-3650 days; omit it for a token that never expires");
  if (!errors.empty()) return errors.toError();

  const auto now = clock_.now();
  model::ApiToken t;
  t.id = newId(clock_);
  t.name = name;
  t.role = role;
  t.userId = creatorUserId;
  t.createdAt = formatTime(now);
  if (expiresInDays) t.expiresAt = formatTime(now + std::chrono::hours(24) * *expiresInDays);

  const std::string secret = crypto::randomToken(kSecretBytes);
  auto rev = kv_.create(tokenKey(t.id), encodeStored(t, crypto::sha256Hex(secret)));
  if (!rev) return rev.error();
  t.revision = rev.value();
  return CreatedToken{t, std::string(session::kTokenPrefix) + t.id + "." + secret};
}

Result<std::vector<model::ApiToken>> TokenService::list() {
  auto entries = kv_.snapshot("token.*");
  if (!entries) return entries.error();
  std::vector<model::ApiToken> out;
  for (const auto& e : entries.value())
    if (auto s = decodeStored(e)) out.push_back(std::move(s->token));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

Status TokenService::remove(const std::string& id) {
  const Error notFound = Error::make(ErrorKind::NotFound, "token_not_found", "no token with id " + id);
  if (!isValidId(id)) return notFound;
  auto entry = kv_.get(tokenKey(id));
  if (!entry) return entry.error().kind == ErrorKind::NotFound ? notFound : entry.error();
  // Unconditional: a lastUsedAt write racing the revocation must not undo it.
  return kv_.remove(tokenKey(id));
}

Result<std::optional<session::Principal>> TokenService::verify(const std::string& bearerToken) {
  using Found = std::optional<session::Principal>;
  const auto parsed = parseBearer(bearerToken);
  if (!parsed) return Found{};
  const auto& [id, secret] = *parsed;

  auto entry = kv_.get(tokenKey(id));
  if (!entry) return entry.error().kind == ErrorKind::NotFound ? Result<Found>(Found{}) : storeUnavailable(entry.error());
  auto stored = decodeStored(entry.value());
  if (!stored || stored->secretHash.empty()) return Found{};  // unreadable: fail closed
  if (!crypto::constantTimeEquals(crypto::sha256Hex(secret), stored->secretHash)) return Found{};

  const auto now = clock_.now();
  auto& t = stored->token;
  if (!t.expiresAt.empty()) {
    const auto expires = parseTime(t.expiresAt);
    if (!expires || now >= *expires) return Found{};
  }
  auto role = session::parseRole(t.role);
  if (!role) return Found{};

  const auto lastUsed = t.lastUsedAt.empty() ? std::nullopt : parseTime(t.lastUsedAt);
  if (!lastUsed || now - *lastUsed >= kLastUsedResolution) {
    t.lastUsedAt = formatTime(now);
    // Compare-and-set on the revision just read: if the token was revoked or
    // changed meanwhile this write fails instead of resurrecting it.
    auto written = kv_.update(tokenKey(id), encodeStored(t, stored->secretHash), entry.value().revision);
    if (!written && written.error().kind != ErrorKind::PreconditionFailed)
      spdlog::debug("could not record lastUsedAt of token {}: {}", id, written.error().message);
  }

  session::Principal p;
  p.userId = t.userId;
  p.username = "token:" + t.name;
  p.role = *role;
  p.via = session::Principal::Via::Token;
  p.tokenId = id;
  return Found{std::move(p)};
}

}  // namespace proxyos::auth
