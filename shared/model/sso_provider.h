#pragma once
// The SsoProvider resource of the sso-provider service (ARCHITECTURE.md §4):
// where the edge sends its forward-auth sub-request, where it sends browsers
// to log in, and which identity headers it copies from the answer. The same
// struct travels over REST, in the proxyos-sso-providers bucket and into the
// edge's table.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "shared/core/error.h"
#include "shared/model/json_reader.h"

namespace proxyos::model {

inline constexpr std::size_t kMaxProviderNameChars = 200;
inline constexpr std::size_t kMaxProviderUrlBytes = 2048;
inline constexpr std::size_t kMaxProviderHeaders = 32;
inline constexpr std::size_t kMaxGroupsSeparatorChars = 4;
inline constexpr int kMinProviderTimeoutMs = 100;
inline constexpr int kMaxProviderTimeoutMs = 60000;
inline constexpr int kMaxProviderCacheTtlSeconds = 3600;

/// Which product answers the forward-auth request. It decides the preset and
/// one rule (`builtin` needs no loginUrl: the edge checks its cookie itself).
enum class SsoProviderType { Authelia, Authentik, Keycloak, Generic, Builtin };

/// "authelia" | "authentik" | "keycloak" | "generic" | "builtin".
std::string ssoProviderTypeName(SsoProviderType type);
/// The inverse of ssoProviderTypeName(); nullopt for anything else (case-sensitive).
std::optional<SsoProviderType> parseSsoProviderType(std::string_view name);
/// Every type, in the order the contract lists them.
const std::vector<SsoProviderType>& allSsoProviderTypes();

/// One SSO provider. Fields as in the REST contract (camelCase JSON of the same names).
struct SsoProvider {
  std::string id;
  std::string name;
  SsoProviderType type = SsoProviderType::Generic;
  std::string forwardAuthUrl;  // absolute http(s) URL; path and query kept as given
  std::string loginUrl;        // "" only for builtin
  std::vector<std::string> authResponseHeaders;  // copied from the provider's 2xx to the upstream
  std::vector<std::string> authRequestHeaders;   // sent to the provider; [] = all the client's
  std::string groupsHeader;                      // "" = none; else one of authResponseHeaders
  std::string groupsSeparator = ",";
  // 64-bit so an out-of-range number in a document is reported, not truncated.
  std::int64_t timeoutMs = 2000;
  std::int64_t cacheTtlSeconds = 0;
  // Server-managed: accepted on input so a client can PUT back what it got;
  // the sso-provider service decides whether to honour or overwrite them.
  std::uint64_t revision = 0;
  std::string createdAt;
  std::string updatedAt;

  bool operator==(const SsoProvider&) const = default;
};

/// Parses a request body: invalid JSON or a non-object is BadRequest
/// `invalid_json`; otherwise as decodeSsoProvider().
Result<SsoProvider> parseSsoProvider(std::string_view body);

/// Decodes strictly and validates one provider. `pathPrefix` is its JSON path
/// inside a larger document ("provider" yields fields like
/// "provider.forwardAuthUrl"). On failure the Error is the first problem found
/// (ErrorKind::Invalid, `field` set) and `details` holds all of them. Rules
/// that need other resources (routes using it, redirect loops) are the
/// service's, not checked here.
Result<SsoProvider> decodeSsoProvider(const nlohmann::json& j, const std::string& pathPrefix = "");

/// Records every rule violation of `p` in `errors`, with field paths under
/// `pathPrefix`, skipping fields that already have a decoding error. Used by
/// decodeSsoProvider() and to check providers built in code (presets).
void validateSsoProvider(const SsoProvider& p, const std::string& pathPrefix, ErrorCollector& errors);

/// The provider as JSON, every field present, in the contract's order.
nlohmann::ordered_json toJson(const SsoProvider& p);

}  // namespace proxyos::model
