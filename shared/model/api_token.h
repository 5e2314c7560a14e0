#pragma once
// The ApiToken resource: a long-lived bearer credential for scripts and CI
// ("Authorization: Bearer pxat_<id>.<secret>"). This is only what the API
// shows; the secret is shown once at creation and the auth service stores
// nothing but its hash, beside these fields.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "shared/core/error.h"

namespace proxyos::model {

inline constexpr std::size_t kMaxTokenNameChars = 64;
inline constexpr std::int64_t kMaxTokenDays = 3650;

/// One API token. Fields as in the REST JSON.
struct ApiToken {
  std::string id;
  std::string name;
  std::string role;    // "admin" | "viewer" | "user" (see isValidRoleName)
  std::string userId;  // who created it; the token acts on that user's behalf
  std::string createdAt;
  std::string expiresAt;   // "" = never
  std::string lastUsedAt;  // "" = never used; updated at most once a minute
  std::uint64_t revision = 0;

  bool operator==(const ApiToken&) const = default;
};

/// The body of POST /api/auth/tokens.
struct NewApiToken {
  std::string name;
  std::string role;
  std::optional<std::int64_t> expiresInDays;  // 1-3650; absent = never expires
};

/// Parses / decodes the create body strictly: name and role required.
Result<NewApiToken> parseNewApiToken(std::string_view body);
Result<NewApiToken> decodeNewApiToken(const nlohmann::json& j);

/// Decodes a whole ApiToken (every field, strictly), e.g. the stored form once
/// the auth service has taken the secret's hash out.
Result<ApiToken> decodeApiToken(const nlohmann::json& j);

/// The token as JSON, every field present, in a stable order. Never a secret.
nlohmann::ordered_json toJson(const ApiToken& t);

}  // namespace proxyos::model
