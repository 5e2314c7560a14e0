#pragma once
// The edge's routing decision (ARCHITECTURE.md §2 step 2) as an immutable
// table. Built once per config change on the config source's thread, then
// shared read-only by every request thread through a
// std::shared_ptr<const RouteTable> (table_holder.h): nothing in it changes
// after build(), so match() needs no lock, and a request keeps the table it
// started with even when a newer one is swapped in meanwhile.
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "shared/core/error.h"
#include "shared/model/route.h"
#include "shared/model/sso_provider.h"

namespace proxyos::edge {

/// The routes of a ConfigSnapshot, each held by a shared_ptr so snapshots and
/// tables built one after the other share the routes that did not change:
/// with 10,000 routes a rebuild copies 10,000 pointers, not 10,000 routes,
/// and two tables alive during a swap hold one copy of each route, not two.
/// A route is never modified once shared (it is `const`); a change is a new
/// object. Reads like a std::vector<model::Route> (iteration, [], size) and
/// converts from one, so tests and the last-known-good decoder can keep
/// building snapshots from plain routes. Equality compares the routes.
class SharedRoutes {
 public:
  using Ptr = std::shared_ptr<const model::Route>;

  class const_iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = model::Route;
    using difference_type = std::ptrdiff_t;
    using pointer = const model::Route*;
    using reference = const model::Route&;
    const_iterator() = default;
    explicit const_iterator(std::vector<Ptr>::const_iterator it) : it_(it) {}
    reference operator*() const { return **it_; }
    pointer operator->() const { return it_->get(); }
    const_iterator& operator++() { ++it_; return *this; }
    const_iterator operator++(int) { auto old = *this; ++it_; return old; }
    difference_type operator-(const const_iterator& o) const { return it_ - o.it_; }
    bool operator==(const const_iterator&) const = default;
    /// The shared_ptr itself, to share the route with another snapshot.
    const Ptr& ptr() const { return *it_; }

   private:
    std::vector<Ptr>::const_iterator it_;
  };

  SharedRoutes() = default;
  SharedRoutes(std::vector<model::Route> routes);  // NOLINT: implicit on purpose
  SharedRoutes(std::initializer_list<model::Route> routes);
  SharedRoutes(std::vector<Ptr> routes) : routes_(std::move(routes)) {}  // NOLINT

  const_iterator begin() const { return const_iterator(routes_.begin()); }
  const_iterator end() const { return const_iterator(routes_.end()); }
  const model::Route& operator[](std::size_t i) const { return *routes_[i]; }
  std::size_t size() const { return routes_.size(); }
  bool empty() const { return routes_.empty(); }
  void reserve(std::size_t n) { routes_.reserve(n); }
  void push_back(model::Route route) { routes_.push_back(std::make_shared<const model::Route>(std::move(route))); }
  /// Shares `route` (never null).
  void push_back(Ptr route) { routes_.push_back(std::move(route)); }
  const Ptr& ptr(std::size_t i) const { return routes_[i]; }

  bool operator==(const SharedRoutes& o) const;

 private:
  std::vector<Ptr> routes_;
};

/// Everything a table is built from: the decoded routes of `proxyos-routes`,
/// the SSO providers of `proxyos-sso-providers` as their stored JSON (decoded
/// when a table is built), and the revisions they reflect. This is also what
/// the last-known-good file stores.
struct ConfigSnapshot {
  SharedRoutes routes;                                 // disabled ones included
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

/// An SSO provider as the data plane uses it: decoded once per table, with
/// its forward-auth URL split so a sub-request needs no parsing.
struct SsoProviderEntry {
  model::SsoProvider provider;  // id set from its key
  bool builtin = false;         // type builtin: the edge checks the session cookie itself
  UpstreamEndpoint endpoint;    // forwardAuthUrl's scheme, host and port (external providers)
  std::string authTarget;       // forwardAuthUrl's path and query ("/api/authz/forward-auth")
  std::string authHost;         // the sub-request's Host ("authelia:9091")
  /// Removed from every client request of its routes before identity is
  /// set: the built-in X-Auth-* names, then provider.authResponseHeaders
  /// (built once here, not per request).
  std::vector<std::string> identityNames;
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
  /// A reference into the table's inputs() (shared with other snapshots),
  /// not a copy: one copy of each route in memory however many tables hold it.
  const model::Route& route;
  /// route.upstreams, parsed, in the same order.
  std::vector<UpstreamEndpoint> upstreams;
  /// The route's SSO provider when route.ssoEnabled and the provider is
  /// known and decodes; nullptr otherwise. A route with ssoEnabled and no
  /// provider here must fail closed.
  const SsoProviderEntry* provider = nullptr;
};

/// Immutable route table. Thread-safe for any number of concurrent readers
/// because it is never modified after build(). Matching order:
///   1. the system host (PROXYOS_URL's host) always answers MatchKind::System;
///      user routes can never shadow it, not even with a wildcard;
///   2. routes of the exact host, longest matching pathPrefix first;
///   3. routes of the one-label wildcard ("*.example.com" for a.example.com,
///      never for a.b.example.com or example.com), longest prefix first;
///   4. a host that is an IP address and that no route claims answers
///      MatchKind::System too (the dashboard opened by IP: its login page
///      explains host_mismatch), when there is a system host.
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

  /// SSO provider `id`, or nullptr (unknown, or its JSON does not decode).
  const SsoProviderEntry* provider(std::string_view id) const;

  const ConfigSnapshot& inputs() const { return inputs_; }
  std::uint64_t revision() const { return inputs_.revision; }
  const std::string& systemHost() const { return systemHost_; }
  /// Enabled routes in the table (the system route not counted).
  std::size_t routeCount() const { return routes_.size(); }

  RouteTable(const RouteTable&) = delete;
  RouteTable& operator=(const RouteTable&) = delete;

 private:
  RouteTable() : system_{MatchKind::System, systemRoute_, {}} {}

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
  std::map<std::string, SsoProviderEntry, std::less<>> providers_;  // node-stable: routes point into it
  std::vector<MatchedRoute> routes_;  // never resized after indexing: the indexes point into it
  model::Route systemRoute_;          // what system_.route refers to: only its id is set
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
/// True for an IPv4 address or a (bracket-less, as normalizeHost leaves it) IPv6 address.
bool isIpLiteral(std::string_view host);

}  // namespace proxyos::edge
