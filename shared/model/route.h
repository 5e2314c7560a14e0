#pragma once
// The Route resource of the route registry (ARCHITECTURE.md §4): which domains
// and path go to which upstreams, with TLS and SSO settings. The same struct
// travels over REST, in the proxyos-routes bucket and into the edge's table.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "shared/core/error.h"

namespace proxyos::model {

/// How the edge terminates TLS for a route's domains.
enum class TlsMode {
  Off,       // "off": plain HTTP only
  Internal,  // "internal": certificate from ProxyOS's own CA
  Auto,      // "auto": ACME HTTP-01 (public names only, no wildcards)
};

/// "off" | "internal" | "auto".
std::string tlsModeName(TlsMode mode);
/// The inverse of tlsModeName(); nullopt for anything else (case-sensitive).
std::optional<TlsMode> parseTlsMode(std::string_view name);

/// Header edits applied by the edge: `remove` first, then `set` (replacing any
/// value the client or upstream sent).
struct HeaderOps {
  std::map<std::string, std::string> set;
  std::vector<std::string> remove;

  bool operator==(const HeaderOps&) const = default;
};

/// One route. Fields as in the REST contract (camelCase JSON of the same names).
struct Route {
  std::string id;
  std::string name;                  // defaults to the first domain
  std::vector<std::string> domains;  // lower-cased; "*.example.com" allowed
  std::string pathPrefix = "/";
  std::vector<std::string> upstreams;  // "scheme://host[:port]", no trailing '/'
  TlsMode tlsMode = TlsMode::Off;
  bool forceHttps = false;
  bool ssoEnabled = false;
  std::string ssoProviderId;
  std::vector<std::string> accessosGroups;
  HeaderOps requestHeaders;
  HeaderOps responseHeaders;
  bool enabled = true;
  // Server-managed: accepted on input so a client can PUT back what it got;
  // the route-registry service decides whether to honour or overwrite them.
  std::uint64_t revision = 0;
  std::string createdAt;
  std::string updatedAt;

  bool operator==(const Route&) const = default;
};

/// Facts from outside the document that validation needs.
struct RouteValidationContext {
  /// Hosts no route may claim, e.g. the dashboard's own host (PROXYOS_URL).
  std::vector<std::string> reservedHosts;
};

/// Parses a request body: invalid JSON or a non-object is BadRequest
/// `invalid_json`; otherwise as decodeRoute().
Result<Route> parseRoute(std::string_view body, const RouteValidationContext& ctx);

/// Decodes strictly, normalizes and validates one route. `pathPrefix` is the
/// route's JSON path inside a larger document ("routes[3]" yields fields like
/// "routes[3].domains[0]"). On failure the Error is the first problem found
/// (ErrorKind::Invalid, `field` set) and `details` holds all of them.
/// Rules that need other resources (provider exists, domain+path not claimed,
/// SSO redirect loops) are the route-registry service's, not checked here.
Result<Route> decodeRoute(const nlohmann::json& j, const RouteValidationContext& ctx,
                          const std::string& pathPrefix = "");

/// The route as JSON, every field present, in the contract's order, so the
/// output is stable for golden tests, ETags and diffs.
nlohmann::ordered_json toJson(const Route& r);

}  // namespace proxyos::model
