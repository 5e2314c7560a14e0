#include "route_table.h"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "shared/core/url.h"
#include "shared/model/hostname.h"

namespace proxyos::edge {

namespace {

constexpr std::size_t kMaxHostLength = 255;  // RFC 1123 names are at most 253

char lowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool allDigits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// PROXYOS_URL's host comes as parseUrl() leaves it (IPv6 without brackets),
// but accept a Host-header spelling too so a caller cannot get it subtly wrong.
std::string normalizeSystemHost(const std::string& host) {
  if (host.empty()) return {};
  char buf[kMaxHostLength + 1];
  std::string_view n = normalizeHost(host, buf, sizeof buf);
  // A bare IPv6 literal ("::1") is not a valid Host header, so normalizeHost
  // refuses it; it is a valid parseUrl() host, though.
  if (n.empty() && host.find(':') != std::string::npos && host.front() != '[') return model::toLowerAscii(host);
  return std::string(n);
}

Result<std::vector<UpstreamEndpoint>> parseUpstreams(const model::Route& route, std::size_t index) {
  std::vector<UpstreamEndpoint> out;
  out.reserve(route.upstreams.size());
  for (std::size_t j = 0; j < route.upstreams.size(); ++j) {
    const std::string field = "routes[" + std::to_string(index) + "].upstreams[" + std::to_string(j) + "]";
    auto url = parseUrl(route.upstreams[j]);
    if (!url) return Error::invalid(field, field + ": " + url.error().message, "invalid_url");
    const Url& u = url.value();
    if (u.scheme != "http" && u.scheme != "https")
      return Error::invalid(field, field + ": scheme \"" + u.scheme + "\" is not supported", "invalid_url");
    out.push_back({u.scheme, u.host, u.port, u.scheme == "https"});
  }
  return out;
}

// A provider that does not decode is left out (its routes fail closed) and
// never fails the table: one bad entry must not take every route down.
std::optional<SsoProviderEntry> decodeProvider(const std::string& id, const std::string& json) {
  auto decoded = model::parseSsoProvider(json);
  if (!decoded) {
    spdlog::error("SSO provider {} does not decode ({}); its routes answer 503", id, decoded.error().message);
    return std::nullopt;
  }
  SsoProviderEntry e;
  e.provider = std::move(decoded.value());
  e.provider.id = id;
  e.builtin = e.provider.type == model::SsoProviderType::Builtin;
  // The built-in names go on every SSO route: an upstream once behind the
  // built-in provider may still trust them after the route moves to another.
  e.identityNames = {"X-Auth-User", "X-Auth-Email", "X-Auth-Groups"};
  e.identityNames.insert(e.identityNames.end(), e.provider.authResponseHeaders.begin(),
                         e.provider.authResponseHeaders.end());
  if (e.builtin) return e;
  auto url = parseUrl(e.provider.forwardAuthUrl);
  if (!url || (url.value().scheme != "http" && url.value().scheme != "https")) {
    spdlog::error("SSO provider {}: forwardAuthUrl does not parse; its routes answer 503", id);
    return std::nullopt;
  }
  const Url& u = url.value();
  e.endpoint = {u.scheme, u.host, u.port, u.scheme == "https"};
  e.authTarget = u.path.empty() ? "/" : u.path;
  if (!u.query.empty()) e.authTarget += "?" + u.query;
  e.authHost = u.authority();
  return e;
}

}  // namespace

SharedRoutes::SharedRoutes(std::vector<model::Route> routes) {
  routes_.reserve(routes.size());
  for (auto& r : routes) routes_.push_back(std::make_shared<const model::Route>(std::move(r)));
}

SharedRoutes::SharedRoutes(std::initializer_list<model::Route> routes) {
  routes_.reserve(routes.size());
  for (const auto& r : routes) routes_.push_back(std::make_shared<const model::Route>(r));
}

bool SharedRoutes::operator==(const SharedRoutes& o) const {
  if (routes_.size() != o.routes_.size()) return false;
  for (std::size_t i = 0; i < routes_.size(); ++i)
    if (routes_[i] != o.routes_[i] && *routes_[i] != *o.routes_[i]) return false;
  return true;
}

std::string_view normalizeHost(std::string_view host, char* buf, std::size_t size) {
  std::string_view h = host;
  if (h.empty()) return {};
  if (h.front() == '[') {
    const auto close = h.find(']');
    if (close == std::string_view::npos) return {};
    const std::string_view rest = h.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || !allDigits(rest.substr(1)))) return {};
    h = h.substr(1, close - 1);
  } else {
    if (const auto colon = h.find(':'); colon != std::string_view::npos) {
      if (!allDigits(h.substr(colon + 1))) return {};
      h = h.substr(0, colon);
    }
    // "example.com." is the same name, fully qualified.
    if (!h.empty() && h.back() == '.') h.remove_suffix(1);
  }
  if (h.empty() || h.size() > size) return {};
  for (std::size_t i = 0; i < h.size(); ++i) buf[i] = lowerAscii(h[i]);
  return {buf, h.size()};
}

bool isIpLiteral(std::string_view host) {
  // normalizeHost has taken the brackets off an IPv6 literal.
  char text[INET6_ADDRSTRLEN + 1];
  if (host.empty() || host.size() >= sizeof text) return false;
  std::memcpy(text, host.data(), host.size());
  text[host.size()] = '\0';
  unsigned char addr[sizeof(in6_addr)];
  return ::inet_pton(host.find(':') == std::string_view::npos ? AF_INET : AF_INET6, text, addr) == 1;
}

bool pathPrefixMatches(std::string_view prefix, std::string_view path) {
  if (path.size() < prefix.size() || path.compare(0, prefix.size(), prefix) != 0) return false;
  return path.size() == prefix.size() || (!prefix.empty() && prefix.back() == '/') || path[prefix.size()] == '/';
}

Result<std::shared_ptr<const RouteTable>> RouteTable::build(ConfigSnapshot inputs, std::string systemHost) {
  // Not make_shared: the constructor is private.
  std::shared_ptr<RouteTable> table(new RouteTable());
  table->systemHost_ = normalizeSystemHost(systemHost);
  table->systemRoute_.id = "system";
  for (const auto& [id, json] : inputs.providersJson)
    if (auto entry = decodeProvider(id, json)) table->providers_.emplace(id, std::move(*entry));

  // Fill routes_ completely before indexing: the indexes hold pointers into it.
  table->routes_.reserve(inputs.routes.size());
  for (std::size_t i = 0; i < inputs.routes.size(); ++i) {
    const model::Route& route = inputs.routes[i];
    if (!route.enabled) continue;
    auto upstreams = parseUpstreams(route, i);
    if (!upstreams) return upstreams.error();
    // `route` lives in inputs.routes' shared object, which the table keeps
    // (inputs_ below): the reference stays valid for the table's lifetime.
    const SsoProviderEntry* provider = route.ssoEnabled ? table->provider(route.ssoProviderId) : nullptr;
    table->routes_.push_back({MatchKind::Route, route, std::move(upstreams.value()), provider});
  }

  for (const MatchedRoute& m : table->routes_) {
    for (const std::string& domain : m.route.domains) {
      const std::string host = model::toLowerAscii(domain);
      if (host == table->systemHost_) {
        spdlog::warn("route {}: domain {} is the dashboard's own host; it is served by the system route", m.route.id,
                     host);
        continue;
      }
      if (model::isWildcardHostname(host))
        table->wildcard_[host.substr(2)].push_back(&m);
      else
        table->exact_[host].push_back(&m);
    }
  }

  // Longest prefix first; ties (two routes claiming one domain+path, which the
  // registry's claims prevent) are broken by id so every edge picks the same.
  const auto order = [](const MatchedRoute* a, const MatchedRoute* b) {
    if (a->route.pathPrefix.size() != b->route.pathPrefix.size())
      return a->route.pathPrefix.size() > b->route.pathPrefix.size();
    if (a->route.pathPrefix != b->route.pathPrefix) return a->route.pathPrefix < b->route.pathPrefix;
    return a->route.id < b->route.id;
  };
  for (HostIndex* index : {&table->exact_, &table->wildcard_}) {
    for (auto& [host, routes] : *index) {
      std::sort(routes.begin(), routes.end(), order);
      for (std::size_t k = 1; k < routes.size(); ++k)
        if (routes[k]->route.pathPrefix == routes[k - 1]->route.pathPrefix)
          spdlog::warn("routes {} and {} both claim {}{}; {} wins", routes[k - 1]->route.id, routes[k]->route.id,
                       index == &table->wildcard_ ? "*." + host : host, routes[k]->route.pathPrefix,
                       routes[k - 1]->route.id);
    }
  }

  table->inputs_ = std::move(inputs);
  return std::shared_ptr<const RouteTable>(std::move(table));
}

const MatchedRoute* RouteTable::longestPrefix(const HostRoutes& routes, std::string_view path) {
  for (const MatchedRoute* m : routes)
    if (pathPrefixMatches(m->route.pathPrefix, path)) return m;
  return nullptr;
}

const MatchedRoute* RouteTable::match(std::string_view host, std::string_view path) const {
  // The request path: no allocation, the host is lower-cased on the stack.
  char buf[kMaxHostLength + 1];
  const std::string_view h = normalizeHost(host, buf, sizeof buf);
  if (h.empty()) return nullptr;
  if (!systemHost_.empty() && h == systemHost_) return &system_;
  if (const auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);

  if (const auto it = exact_.find(h); it != exact_.end())
    if (const MatchedRoute* m = longestPrefix(it->second, path)) return m;

  // One label only: "a.example.com" looks up "example.com"; "a.b.example.com"
  // looks up "b.example.com", which "*.example.com" is not filed under.
  const auto dot = h.find('.');
  if (dot != std::string_view::npos && dot != 0)
    if (const auto it = wildcard_.find(h.substr(dot + 1)); it != wildcard_.end())
      if (const MatchedRoute* m = longestPrefix(it->second, path)) return m;
  // An address no route claims is the machine itself: the dashboard answers
  // there too, so an operator who opens it by IP sees the login page explain
  // why the session will not stick (host_mismatch) instead of a 404.
  if (!systemHost_.empty() && isIpLiteral(h)) return &system_;
  return nullptr;
}

const SsoProviderEntry* RouteTable::provider(std::string_view id) const {
  const auto it = providers_.find(id);
  return it == providers_.end() ? nullptr : &it->second;
}

}  // namespace proxyos::edge
