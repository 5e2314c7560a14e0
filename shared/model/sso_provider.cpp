#include "shared/model/sso_provider.h"

#include <algorithm>
#include <array>
#include <map>

#include "shared/core/url.h"
#include "shared/model/hostname.h"
#include "shared/model/route_validation.h"
#include "shared/model/text.h"

namespace proxyos::model {

namespace {

constexpr const char* kTypeList = "\"authelia\", \"authentik\", \"keycloak\", \"generic\", \"builtin\"";


// Looks at the raw text: parseUrl() reports "http://@host" with an empty
// userinfo, which is still a credentials slot a later parser may read.
bool hasUserinfo(std::string_view url) {
  const auto start = url.find("://");
  if (start == std::string_view::npos) return false;
  const auto authority = url.substr(start + 3, url.find_first_of("/?#", start + 3) - (start + 3));
  return authority.find('@') != std::string_view::npos;
}

bool containsIgnoringCase(const std::vector<std::string>& names, const std::string& name) {
  const std::string wanted = toLowerAscii(name);
  return std::any_of(names.begin(), names.end(), [&](const std::string& n) { return toLowerAscii(n) == wanted; });
}

void validateName(const SsoProvider& p, const std::string& path, ErrorCollector& errors) {
  if (errors.hasErrorAt(path)) return;
  const std::size_t length = utf8Length(p.name);
  if (length == 0) errors.add(path, "required", "is required (1-200 characters)");
  else if (length > kMaxProviderNameChars) errors.add(path, "invalid_value", "must be at most 200 characters");
  else if (hasControlChar(p.name)) errors.add(path, "invalid_value", "must not contain control characters");
}

/// Absolute http(s) URL with a host; path and query allowed (forward-auth
/// endpoints live at paths like /api/authz/forward-auth), credentials and
/// fragments not (a fragment is never sent; credentials would end up in logs).
void validateUrl(const std::string& text, const std::string& path, ErrorCollector& errors) {
  if (text.size() > kMaxProviderUrlBytes) return errors.add(path, "invalid_url", "must be at most 2048 bytes");
  auto parsed = parseUrl(text);
  if (!parsed) return errors.add(path, "invalid_url", parsed.error().message);
  const Url& url = parsed.value();
  if (url.scheme != "http" && url.scheme != "https")
    return errors.add(path, "invalid_url", "scheme \"" + url.scheme + "\" is not supported; use http or https");
  if (hasUserinfo(text))
    return errors.add(path, "invalid_url", "must not contain credentials (user:password@)");
  if (text.find('#') != std::string::npos) errors.add(path, "invalid_url", "must not contain a fragment");
}

void validateUrls(const SsoProvider& p, const std::string& prefix, ErrorCollector& errors) {
  const std::string forward = fieldPath(prefix, "forwardAuthUrl");
  if (!errors.hasErrorAt(forward)) {
    if (p.forwardAuthUrl.empty())
      errors.add(forward, "required", "is required: the URL the edge asks whether a request may pass");
    else
      validateUrl(p.forwardAuthUrl, forward, errors);
  }
  const std::string login = fieldPath(prefix, "loginUrl");
  if (errors.hasErrorAt(login)) return;
  if (!p.loginUrl.empty()) return validateUrl(p.loginUrl, login, errors);
  // Only the built-in provider has a login page the edge knows by itself.
  if (p.type != SsoProviderType::Builtin && !errors.hasErrorAt(fieldPath(prefix, "type")))
    errors.add(login, "required",
               "is required for type " + ssoProviderTypeName(p.type) +
                   ": the edge sends browsers there when the provider answers 401 or 403");
}

void validateHeaderList(const std::vector<std::string>& names, const std::string& path, ErrorCollector& errors) {
  if (errors.hasErrorAt(path)) return;
  if (names.size() > kMaxProviderHeaders) return errors.add(path, "too_many", "at most 32 header names are allowed");
  std::map<std::string, std::string> seen;  // lower-cased name -> its path
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string item = indexPath(path, i);
    if (!isHttpToken(names[i]))
      errors.add(item, "invalid_header_name",
                 "is not a valid header name (RFC 7230 token: letters, digits and !#$%&'*+-.^_`|~)");
    else if (isManagedHeader(names[i]))
      errors.add(item, "invalid_header_name",
                 "\"" + names[i] + "\" is managed by the proxy (hop-by-hop, Host or Content-Length) and cannot be "
                 "used");
    else if (auto [it, inserted] = seen.emplace(toLowerAscii(names[i]), item); !inserted)
      errors.add(item, "duplicate", "duplicates " + it->second + " (header names are case-insensitive)");
  }
}

void validateGroups(const SsoProvider& p, const std::string& prefix, ErrorCollector& errors) {
  const std::string header = fieldPath(prefix, "groupsHeader");
  if (!errors.hasErrorAt(header) && !p.groupsHeader.empty()) {
    const std::string responseHeaders = fieldPath(prefix, "authResponseHeaders");
    if (!isHttpToken(p.groupsHeader))
      errors.add(header, "invalid_header_name",
                 "is not a valid header name (RFC 7230 token: letters, digits and !#$%&'*+-.^_`|~)");
    else if (!errors.hasErrorAt(responseHeaders) && !containsIgnoringCase(p.authResponseHeaders, p.groupsHeader))
      // The edge reads groups only from headers it copies from the provider,
      // after deleting any copy the client sent; another header could be forged.
      errors.add(header, "invalid_value",
                 "\"" + p.groupsHeader + "\" must also be listed in authResponseHeaders (the edge reads groups only "
                 "from headers it takes from the provider)");
  }
  const std::string separator = fieldPath(prefix, "groupsSeparator");
  if (errors.hasErrorAt(separator)) return;
  const std::size_t length = utf8Length(p.groupsSeparator);
  if (length == 0 || length > kMaxGroupsSeparatorChars)
    errors.add(separator, "invalid_value", "must be 1-4 characters");
  else if (hasControlChar(p.groupsSeparator))
    errors.add(separator, "invalid_value", "must not contain control characters");
}

void validateLimits(const SsoProvider& p, const std::string& prefix, ErrorCollector& errors) {
  const std::string timeout = fieldPath(prefix, "timeoutMs");
  if (!errors.hasErrorAt(timeout) && (p.timeoutMs < kMinProviderTimeoutMs || p.timeoutMs > kMaxProviderTimeoutMs))
    errors.add(timeout, "invalid_value", "must be an integer from 100 to 60000 (milliseconds)");
  const std::string ttl = fieldPath(prefix, "cacheTtlSeconds");
  if (!errors.hasErrorAt(ttl) && (p.cacheTtlSeconds < 0 || p.cacheTtlSeconds > kMaxProviderCacheTtlSeconds))
    errors.add(ttl, "invalid_value", "must be an integer from 0 to 3600 (seconds; 0 = no caching)");
}

}  // namespace

std::string ssoProviderTypeName(SsoProviderType type) {
  switch (type) {
    case SsoProviderType::Authelia: return "authelia";
    case SsoProviderType::Authentik: return "authentik";
    case SsoProviderType::Keycloak: return "keycloak";
    case SsoProviderType::Generic: return "generic";
    case SsoProviderType::Builtin: return "builtin";
  }
  return "generic";
}

std::optional<SsoProviderType> parseSsoProviderType(std::string_view name) {
  for (SsoProviderType type : allSsoProviderTypes())
    if (ssoProviderTypeName(type) == name) return type;
  return std::nullopt;
}

const std::vector<SsoProviderType>& allSsoProviderTypes() {
  static const std::vector<SsoProviderType> types = {SsoProviderType::Authelia, SsoProviderType::Authentik,
                                                     SsoProviderType::Keycloak, SsoProviderType::Generic,
                                                     SsoProviderType::Builtin};
  return types;
}

void validateSsoProvider(const SsoProvider& p, const std::string& pathPrefix, ErrorCollector& errors) {
  validateName(p, fieldPath(pathPrefix, "name"), errors);
  validateUrls(p, pathPrefix, errors);
  validateHeaderList(p.authResponseHeaders, fieldPath(pathPrefix, "authResponseHeaders"), errors);
  validateHeaderList(p.authRequestHeaders, fieldPath(pathPrefix, "authRequestHeaders"), errors);
  validateGroups(p, pathPrefix, errors);
  validateLimits(p, pathPrefix, errors);
}

Result<SsoProvider> decodeSsoProvider(const nlohmann::json& j, const std::string& pathPrefix) {
  ErrorCollector errors;
  if (!j.is_object()) {
    errors.add(pathPrefix, "invalid_type", "expected a JSON object");
    return errors.toError();
  }
  SsoProvider p;
  JsonObjectReader in(j, pathPrefix, errors);
  in.readString("id", p.id);
  in.readString("name", p.name);
  const std::string typePath = in.pathOf("type");
  if (std::string type; in.readString("type", type)) {
    if (auto parsed = parseSsoProviderType(type))
      p.type = *parsed;
    else
      errors.add(typePath, "invalid_enum", std::string("must be one of ") + kTypeList);
  } else if (!errors.hasErrorAt(typePath)) {
    // No default: the type decides the rules (loginUrl) and what the dashboard shows.
    errors.add(typePath, "required", std::string("is required: one of ") + kTypeList);
  }
  in.readString("forwardAuthUrl", p.forwardAuthUrl);
  in.readString("loginUrl", p.loginUrl);
  in.readStringArray("authResponseHeaders", p.authResponseHeaders);
  in.readStringArray("authRequestHeaders", p.authRequestHeaders);
  in.readString("groupsHeader", p.groupsHeader);
  in.readString("groupsSeparator", p.groupsSeparator);
  in.readInt64("timeoutMs", p.timeoutMs);
  in.readInt64("cacheTtlSeconds", p.cacheTtlSeconds);
  in.readUint64("revision", p.revision);
  in.readString("createdAt", p.createdAt);
  in.readString("updatedAt", p.updatedAt);
  in.finish();

  validateSsoProvider(p, pathPrefix, errors);
  if (!errors.empty()) return errors.toError();
  return p;
}

Result<SsoProvider> parseSsoProvider(std::string_view body) {
  auto document = parseJsonObject(body);
  if (!document) return document.error();
  return decodeSsoProvider(document.value());
}

nlohmann::ordered_json toJson(const SsoProvider& p) {
  nlohmann::ordered_json j;
  j["id"] = p.id;
  j["name"] = p.name;
  j["type"] = ssoProviderTypeName(p.type);
  j["forwardAuthUrl"] = p.forwardAuthUrl;
  j["loginUrl"] = p.loginUrl;
  j["authResponseHeaders"] = p.authResponseHeaders;
  j["authRequestHeaders"] = p.authRequestHeaders;
  j["groupsHeader"] = p.groupsHeader;
  j["groupsSeparator"] = p.groupsSeparator;
  j["timeoutMs"] = p.timeoutMs;
  j["cacheTtlSeconds"] = p.cacheTtlSeconds;
  j["revision"] = p.revision;
  j["createdAt"] = p.createdAt;
  j["updatedAt"] = p.updatedAt;
  return j;
}

}  // namespace proxyos::model
