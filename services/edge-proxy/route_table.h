#pragma once
// The edge's routing decision (ARCHITECTURE.md §2 step 2) as an immutable
// table. Built once per config change on the config source's thread, then
// shared read-only by every request thread through a
// std::shared_ptr<const RouteTable> (table_holder.h): nothing in it changes
// after build(), so match() needs no lock, and a request keeps the table it
// started with even when a newer one is swapped in meanwhile.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "shared/core/error.h"
#include "shared/model/route.h"

namespace proxyos::edge {

/// Everything a table is built from: the decoded routes of `proxyos-routes`,
/// the SSO providers of `proxyos-sso-providers` as opaque JSON (until the
/// SsoProvider model lands), and the revisions they reflect. This is also what
/// the last-known-good file stores.
struct ConfigSnapshot {
  std::vector<model::Route> routes;                    // disabled ones included
  std::map<std::string, std::string> providersJson;    // provider id -> its JSON
  std::uint64_t revision = 0;           // highest proxyos-routes revision seen (claims included)
  std::uint64_t providersRevision = 0;  // highest proxyos-sso-providers revision seen

  bool operator==(const ConfigSnapshot&) const = default;
};

/// One upstream of a route, parsed once at build so the data plane can
/// connect without parsing a URL per request.
struct UpstreamEndpoint {
  std::string scheme;  // "http" | "https"
  std::string host;    // lower-case; an IPv6 literal without brackets
  std::uint16_t port = 0;
  bool tls = false;    // scheme == "https"

  bool operator==(const UpstreamEndpoint&) const = default;
};

enum class MatchKind {
  Route,   // a user route: proxy to `upstreams`
  System,  // the host of PROXYOS_URL: the edge's built-in system route
};

/// The answer of RouteTable::match(). Owned by the table; valid as long as the
/// caller holds the table's shared_ptr.
struct MatchedRoute {
  MatchKind kind = MatchKind::Route;
  /// The whole route (id, pathPrefix, tlsMode, forceHttps, ssoEnabled,
  /// ssoProviderId, accessosGroups, header ops, ...). Empty for System.
  model::Route route;
  /// route.upstreams, parsed, in the same order.
  std::vector<UpstreamEndpoint> upstreams;
};

/// Immutable route table. Thread-safe for any number of concurrent readers
/// because it is never modified after build(). Matching order:
///   1. the system host (PROXYOS_URL's host) always answers MatchKind::System;
///      user routes can never shadow it, not even with a wildcard;
///   2. routes of the exact host, longest matching pathPrefix first;
///   3. routes of the one-label wildcard ("*.example.com" for a.example.com,
///      never for a.b.example.com or example.com), longest prefix first.
/// An exact host whose prefixes all miss the path falls through to the
/// wildcard: the wildcard route was configured to serve that name too.
/// A prefix matches when path == prefix, or the prefix ends with '/', or the
/// path continues with '/' after it ("/api" matches "/api/x", not "/apiary").
/// Disabled routes are not in the table. A route whose ssoProviderId names no
/// known provider stays in the table: the data plane must fail closed for it
/// (dropping it could hand its requests to a wildcard route without SSO).
class RouteTable {
 public:
  /// Builds a table. `systemHost` is PROXYOS_URL's host ("" = none). Fails
  /// (Invalid, field "routes[i].upstreams[j]") only when an upstream does not
  /// parse, which decoded routes never do; the caller keeps its old table.
  static Result<std::shared_ptr<const RouteTable>> build(ConfigSnapshot inputs, std::string systemHost);

  /// Host as in the Host header (any case, optional ":port", "[v6]:port",
  /// one trailing dot tolerated); path without query (anything from '?' on is
  /// ignored). nullptr when nothing matches. Allocation-free.
  const MatchedRoute* match(std::string_view host, std::string_view path) const;

  /// The JSON of SSO provider `id`, or nullptr.
  const std::string* providerJson(std::string_view id) const;

  const ConfigSnapshot& inputs() const { return inputs_; }
  std::uint64_t revision() const { return inputs_.revision; }
  const std::string& systemHost() const { return systemHost_; }
  /// Enabled routes in the table (the system route not counted).
  std::size_t routeCount() const { return routes_.size(); }

  RouteTable(const RouteTable&) = delete;
  RouteTable& operator=(const RouteTable&) = delete;

 private:
  RouteTable() = default;

  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  /// Routes of one host name, longest pathPrefix first.
  using HostRoutes = std::vector<const MatchedRoute*>;
  using HostIndex = std::unordered_map<std::string, HostRoutes, StringHash, std::equal_to<>>;

  static const MatchedRoute* longestPrefix(const HostRoutes& routes, std::string_view path);

  ConfigSnapshot inputs_;
  std::string systemHost_;
  std::map<std::string, std::string, std::less<>> providers_;
  std::vector<MatchedRoute> routes_;  // never resized after indexing: the indexes point into it
  MatchedRoute system_;
  HostIndex exact_;      // "a.example.com" -> routes
  HostIndex wildcard_;   // "example.com" (from "*.example.com") -> routes
};

/// Lower-cases `host` into `buf` after removing the port, IPv6 brackets and
/// one trailing dot. Returns the normalized view into `buf`, or an empty view
/// when the host is empty, malformed or longer than `size`. Exposed for tests
/// and for the data plane's logging.
std::string_view normalizeHost(std::string_view host, char* buf, std::size_t size);

/// The prefix rule above, exposed for tests.
bool pathPrefixMatches(std::string_view prefix, std::string_view path);

}  // namespace proxyos::edge
