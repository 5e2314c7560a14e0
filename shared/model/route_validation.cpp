#include "shared/model/route_validation.h"
#include "shared/model/text.h"

#include <algorithm>
#include <array>
#include <map>
#include <optional>

#include "shared/core/url.h"
#include "shared/model/hostname.h"

namespace proxyos::model {

namespace {

constexpr std::size_t kMaxNameChars = 200;
constexpr std::size_t kMaxDomains = 100;
constexpr std::size_t kMaxPathPrefix = 1024;
constexpr std::size_t kMaxUpstreams = 64;
constexpr std::size_t kMaxProviderId = 64;
constexpr std::size_t kMaxGroupChars = 128;
constexpr std::size_t kMaxHeaderValue = 8192;

// Headers the edge itself manages: hop-by-hop ones are stripped per RFC 7230
// §6.1, and Host / Content-Length decide routing and message framing. Letting
// a route edit them would desynchronise the edge from its peers (request
// smuggling, broken keep-alive), so they can be neither set nor removed.
constexpr std::array<std::string_view, 9> kManagedHeaders = {
    "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
    "trailer",    "upgrade",    "host",             "content-length"};


bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

bool hasSurroundingSpace(std::string_view s) { return !s.empty() && (isSpace(s.front()) || isSpace(s.back())); }

bool isHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// RFC 3986 pchar minus pct-encoded (checked separately), plus '/'.
bool isPathChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("-._~!$&'()*+,;=:@/").find(c) != std::string_view::npos;
}

// Looks at the raw text: parseUrl() reports "http://@host" with an empty
// userinfo, which is still a credentials slot a later parser may read.
bool hasUserinfo(std::string_view url) {
  const auto start = url.find("://");
  if (start == std::string_view::npos) return false;
  const auto authority = url.substr(start + 3, url.find_first_of("/?#", start + 3) - (start + 3));
  return authority.find('@') != std::string_view::npos;
}

/// Paths of this object's fields, so messages and skips agree on spelling.
struct Paths {
  const std::string& prefix;
  std::string operator()(std::string_view key) const { return fieldPath(prefix, key); }
};

void validateName(const Route& r, const Paths& path, ErrorCollector& errors) {
  const std::string p = path("name");
  if (errors.hasErrorAt(p) || r.name.empty()) return;
  if (utf8Length(r.name) > kMaxNameChars) errors.add(p, "invalid_value", "must be at most 200 characters");
  else if (hasControlChar(r.name)) errors.add(p, "invalid_value", "must not contain control characters");
}

void validateDomains(Route& r, const RouteValidationContext& ctx, const Paths& path, ErrorCollector& errors) {
  const std::string p = path("domains");
  if (errors.hasErrorAt(p)) return;
  if (r.domains.empty()) return errors.add(p, "required", "at least one domain is required");
  if (r.domains.size() > kMaxDomains) return errors.add(p, "too_many", "at most 100 domains are allowed");

  std::map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < r.domains.size(); ++i) {
    const std::string item = indexPath(p, i);
    std::string& domain = r.domains[i];
    if (hasSurroundingSpace(domain)) {
      errors.add(item, "invalid_hostname", "has leading or trailing whitespace");
      continue;
    }
    domain = toLowerAscii(domain);
    if (domain.find(':') != std::string::npos && domain.find("://") == std::string::npos) {
      errors.add(item, "invalid_hostname", "must not contain a port; ports belong in upstreams");
      continue;
    }
    if (auto problem = checkHostname(domain, /*allowWildcard=*/true)) {
      errors.add(item, problem->code, problem->message);
      continue;
    }
    const bool reserved = std::any_of(ctx.reservedHosts.begin(), ctx.reservedHosts.end(),
                                      [&](const std::string& host) { return toLowerAscii(host) == domain; });
    if (reserved) {
      errors.add(item, "reserved_domain", "\"" + domain + "\" is the dashboard's own host and cannot be used by a route");
      continue;
    }
    if (auto [it, inserted] = seen.emplace(domain, i); !inserted)
      errors.add(item, "duplicate", "duplicates " + indexPath(p, it->second));
  }
}

void validatePathPrefix(const Route& r, const Paths& path, ErrorCollector& errors) {
  const std::string p = path("pathPrefix");
  if (errors.hasErrorAt(p)) return;
  const std::string& s = r.pathPrefix;
  if (s.empty() || s.front() != '/') return errors.add(p, "invalid_path", "must start with '/'");
  if (s.size() > kMaxPathPrefix) return errors.add(p, "invalid_path", "must be at most 1024 characters");
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (isSpace(c)) return errors.add(p, "invalid_path", "must not contain whitespace");
    if (c == '?') return errors.add(p, "invalid_path", "must not contain '?': a query is not part of a path prefix");
    if (c == '#') return errors.add(p, "invalid_path", "must not contain '#': a fragment is not part of a path prefix");
    if (c == '%') {
      if (i + 2 >= s.size() || !isHex(s[i + 1]) || !isHex(s[i + 2]))
        return errors.add(p, "invalid_path", "has a '%' not followed by two hex digits");
      i += 2;
      continue;
    }
    if (!isPathChar(c))
      return errors.add(p, "invalid_path", "contains a character not allowed in a URL path; percent-encode it");
  }
  // A ".." segment (also spelt %2e%2e) would let the prefix match paths that
  // normalize outside it; the edge compares against normalized paths.
  std::size_t start = 1;
  while (start <= s.size()) {
    std::size_t end = s.find('/', start);
    if (end == std::string::npos) end = s.size();
    std::string segment = toLowerAscii(s.substr(start, end - start));
    for (std::size_t at; (at = segment.find("%2e")) != std::string::npos;) segment.replace(at, 3, ".");
    if (segment == "..") return errors.add(p, "invalid_path", "must not contain a '..' segment");
    start = end + 1;
  }
}

void validateUpstreams(Route& r, const Paths& path, ErrorCollector& errors) {
  const std::string p = path("upstreams");
  if (errors.hasErrorAt(p)) return;
  if (r.upstreams.empty()) return errors.add(p, "required", "at least one upstream is required");
  if (r.upstreams.size() > kMaxUpstreams) return errors.add(p, "too_many", "at most 64 upstreams are allowed");

  std::map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < r.upstreams.size(); ++i) {
    const std::string item = indexPath(p, i);
    std::string& text = r.upstreams[i];
    auto parsed = parseUrl(text);
    if (!parsed) {
      errors.add(item, "invalid_url", parsed.error().message);
      continue;
    }
    const Url& url = parsed.value();
    if (url.scheme != "http" && url.scheme != "https") {
      errors.add(item, "invalid_url", "scheme \"" + url.scheme + "\" is not supported; use http or https");
      continue;
    }
    const char* problem = nullptr;
    if (hasUserinfo(text))
      problem = "must not contain credentials (user:password@); set an Authorization header instead";
    else if (text.find('?') != std::string::npos)
      problem = "must not contain a query";
    else if (text.find('#') != std::string::npos)
      problem = "must not contain a fragment";
    else if (!url.path.empty() && url.path != "/")
      problem = "must not have a path: requests are forwarded with their own path";
    if (problem != nullptr) {
      errors.add(item, "invalid_url", problem);
      continue;
    }
    // origin() lower-cases scheme and host, drops a default port and the '/',
    // so equal upstreams compare equal.
    text = url.origin();
    if (auto [it, inserted] = seen.emplace(text, i); !inserted)
      errors.add(item, "duplicate", "duplicates " + indexPath(p, it->second));
  }
}

void validateTls(const Route& r, const Paths& path, ErrorCollector& errors) {
  const std::string mode = path("tlsMode");
  if (errors.hasErrorAt(mode)) return;
  if (r.tlsMode == TlsMode::Auto) {
    const std::string domains = path("domains");
    for (std::size_t i = 0; i < r.domains.size(); ++i) {
      const std::string item = indexPath(domains, i);
      if (isWildcardHostname(r.domains[i]) && !errors.hasErrorAt(item))
        errors.add(item, "invalid_value",
                   "a wildcard domain cannot use tlsMode auto: ACME HTTP-01 cannot issue wildcard certificates "
                   "(use tlsMode internal)");
    }
  }
  const std::string force = path("forceHttps");
  if (r.forceHttps && r.tlsMode == TlsMode::Off && !errors.hasErrorAt(force))
    errors.add(force, "invalid_value", "requires tlsMode internal or auto");
}

void validateSso(const Route& r, const Paths& path, ErrorCollector& errors) {
  const std::string p = path("ssoProviderId");
  if (errors.hasErrorAt(p)) return;
  const std::string& id = r.ssoProviderId;
  if (id.empty()) {
    if (r.ssoEnabled && !errors.hasErrorAt(path("ssoEnabled")))
      errors.add(p, "required", "is required when ssoEnabled is true");
    return;
  }
  const bool shapeOk = id.size() <= kMaxProviderId && std::all_of(id.begin(), id.end(), [](char c) {
                         return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
                       });
  if (!shapeOk) errors.add(p, "invalid_value", "must be 1-64 characters of a-z, 0-9, '_' and '-'");
}

void validateGroups(const Route& r, const Paths& path, ErrorCollector& errors) {
  const std::string p = path("accessosGroups");
  if (errors.hasErrorAt(p)) return;
  std::map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < r.accessosGroups.size(); ++i) {
    const std::string item = indexPath(p, i);
    const std::string& group = r.accessosGroups[i];
    const std::size_t length = utf8Length(group);
    // ',' and '|' separate groups in provider headers (groupsSeparator), so a
    // name containing one could never match.
    if (length == 0 || length > kMaxGroupChars)
      errors.add(item, "invalid_value", "must be 1-128 characters");
    else if (hasControlChar(group))
      errors.add(item, "invalid_value", "must not contain control characters");
    else if (group.find_first_of(",|") != std::string::npos)
      errors.add(item, "invalid_value", "must not contain ',' or '|' (they separate groups in provider headers)");
    else if (hasSurroundingSpace(group))
      errors.add(item, "invalid_value", "must not have leading or trailing spaces");
    else if (auto [it, inserted] = seen.emplace(group, i); !inserted)
      errors.add(item, "duplicate", "duplicates " + indexPath(p, it->second));
  }
}

std::optional<std::string> headerNameProblem(const std::string& name, const char* verb) {
  if (!isHttpToken(name)) return "is not a valid header name (RFC 7230 token: letters, digits and !#$%&'*+-.^_`|~)";
  if (isManagedHeader(name))
    return "\"" + name + "\" is managed by the proxy (hop-by-hop, Host or Content-Length) and cannot be " + verb;
  return std::nullopt;
}

void validateHeaderSet(const std::map<std::string, std::string>& set, const std::string& p, ErrorCollector& errors) {
  std::map<std::string, std::string> seen;  // lower-cased name -> its path
  for (const auto& [name, value] : set) {
    const std::string item = fieldPath(p, name);
    if (auto problem = headerNameProblem(name, "set")) {
      errors.add(item, "invalid_header_name", *problem);
      continue;
    }
    if (auto [it, inserted] = seen.emplace(toLowerAscii(name), item); !inserted) {
      errors.add(item, "duplicate", "duplicates " + it->second + " (header names are case-insensitive)");
      continue;
    }
    if (value.size() > kMaxHeaderValue)
      errors.add(item, "invalid_header_value", "must be at most 8192 bytes");
    else if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
      errors.add(item, "invalid_header_value", "must not contain CR, LF or NUL (header injection)");
  }
}

void validateHeaderRemove(const std::vector<std::string>& remove, const std::string& p, ErrorCollector& errors) {
  std::map<std::string, std::string> seen;
  for (std::size_t i = 0; i < remove.size(); ++i) {
    const std::string item = indexPath(p, i);
    if (auto problem = headerNameProblem(remove[i], "removed"))
      errors.add(item, "invalid_header_name", *problem);
    else if (auto [it, inserted] = seen.emplace(toLowerAscii(remove[i]), item); !inserted)
      errors.add(item, "duplicate", "duplicates " + it->second + " (header names are case-insensitive)");
  }
}

// `set` and `remove` are checked independently: an unknown sibling key
// (e.g. "requestHeaders.add") should not hide a forbidden header in `set`.
void validateHeaderOps(const HeaderOps& ops, const std::string& base, ErrorCollector& errors) {
  const std::string setPath = fieldPath(base, "set");
  if (!errors.hasErrorAt(setPath)) validateHeaderSet(ops.set, setPath, errors);
  const std::string removePath = fieldPath(base, "remove");
  if (!errors.hasErrorAt(removePath)) validateHeaderRemove(ops.remove, removePath, errors);
}

}  // namespace

bool isHttpToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

void normalizeAndValidateRoute(Route& r, const RouteValidationContext& ctx, const std::string& pathPrefix,
                               ErrorCollector& errors) {
  const Paths path{pathPrefix};
  validateName(r, path, errors);
  validateDomains(r, ctx, path, errors);
  // Defaulted after domains are normalized, so the name shows the stored form;
  // an empty name is what a dashboard form sends for "not given".
  if (r.name.empty() && !r.domains.empty() && !errors.hasErrorAt(path("name"))) r.name = r.domains.front();
  validatePathPrefix(r, path, errors);
  validateUpstreams(r, path, errors);
  validateTls(r, path, errors);
  validateSso(r, path, errors);
  validateGroups(r, path, errors);
  validateHeaderOps(r.requestHeaders, path("requestHeaders"), errors);
  validateHeaderOps(r.responseHeaders, path("responseHeaders"), errors);
}

bool isManagedHeader(std::string_view name) {
  const std::string lower = toLowerAscii(std::string(name));
  return std::find(kManagedHeaders.begin(), kManagedHeaders.end(), lower) != kManagedHeaders.end();
}

}  // namespace proxyos::model
