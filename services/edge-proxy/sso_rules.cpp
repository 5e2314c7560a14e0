#include "sso_rules.h"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/container/small_vector.hpp>

#include "header_rules.h"
#include "shared/core/url.h"
#include "string_view_compat.h"

namespace proxyos::edge {

namespace http = boost::beast::http;
using boost::beast::iequals;

namespace {

constexpr std::string_view kXForwardedPrefix = "x-forwarded-";

char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

// `needle` is lower case.
bool containsIgnoreCase(std::string_view haystack, std::string_view needle) {
  if (needle.size() > haystack.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    std::size_t j = 0;
    while (j < needle.size() && lowerAscii(haystack[i + j]) == needle[j]) ++j;
    if (j == needle.size()) return true;
  }
  return false;
}

bool isXForwarded(std::string_view name) {
  return name.size() >= kXForwardedPrefix.size() &&
         iequals(toBeast(name.substr(0, kXForwardedPrefix.size())), toBeast(kXForwardedPrefix));
}

bool namedIn(const std::vector<std::string>& names, boost::beast::string_view name) {
  for (const auto& n : names)
    if (iequals(toBeast(n), name)) return true;
  return false;
}

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Every value of `name` in `fields`, in order, joined with `separator`.
// Beast's equal_range() spans list order from the first to the last match,
// other fields in between included, hence the name check.
std::string joinedValues(const Fields& fields, std::string_view name, std::string_view separator, bool* found) {
  std::string joined;
  *found = false;
  const auto [begin, end] = fields.equal_range(toBeast(name));
  for (auto it = begin; it != end; ++it) {
    if (!iequals(it->name_string(), toBeast(name))) continue;
    if (*found) joined += separator;
    joined += toStd(it->value());
    *found = true;
  }
  return joined;
}

// Calls `visit(name, value, pair)` for each "name=value" of a Cookie value
// (RFC 6265 §4.2.1: pairs separated by ';', optional whitespace around
// them). `pair` is the trimmed pair as sent. Stops when `visit` returns true.
template <class Visit>
bool forEachCookie(std::string_view line, Visit&& visit) {
  while (!line.empty()) {
    const auto semi = line.find(';');
    const std::string_view pair = trimOws(line.substr(0, semi));
    line = semi == std::string_view::npos ? std::string_view{} : line.substr(semi + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    const std::string_view name = trimOws(pair.substr(0, eq));
    const std::string_view value = eq == std::string_view::npos ? std::string_view{} : trimOws(pair.substr(eq + 1));
    if (visit(name, value, pair)) return true;
  }
  return false;
}

void appendField(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

}  // namespace

std::string originalUrl(const SsoRequestFacts& facts) {
  std::string url;
  url.reserve(facts.scheme.size() + 3 + facts.host.size() + facts.target.size());
  url += facts.scheme;
  url += "://";
  url += facts.host;
  url += facts.target;
  return url;
}

bool isBrowser(const Fields& clientFields) {
  const auto [begin, end] = clientFields.equal_range(http::field::accept);
  for (auto it = begin; it != end; ++it)
    if (it->name() == http::field::accept && containsIgnoreCase(toStd(it->value()), "text/html")) return true;
  return false;
}

void appendAuthRequestHead(const model::SsoProvider& provider, std::string_view authTarget, std::string_view authHost,
                           const Fields& clientFields, const SsoRequestFacts& facts, std::string& out) {
  // The names listed in Connection, gathered before the scan so that it can
  // stay a single pass: a Connection line may follow the fields it names.
  // Views into the client's fields, which outlive this call.
  boost::container::small_vector<boost::beast::string_view, 4> listed;
  {
    const auto [begin, end] = clientFields.equal_range(http::field::connection);
    for (auto it = begin; it != end; ++it)
      if (it->name() == http::field::connection)
        for (const auto& token : http::token_list{it->value()}) listed.push_back(token);
  }

  out.reserve(out.size() + 1024 + authTarget.size() + authHost.size() + 2 * facts.host.size() +
              facts.target.size());
  out += "GET ";
  out += authTarget;
  out += " HTTP/1.1\r\n";
  appendField(out, "Host", authHost);

  const bool allowList = !provider.authRequestHeaders.empty();
  for (const auto& f : clientFields) {
    const http::field known = f.name();
    if (known == http::field::host || known == http::field::content_length || known == http::field::expect ||
        isHopByHop(known))
      continue;
    const boost::beast::string_view name = f.name_string();
    if (isXForwarded(toStd(name))) continue;
    if (allowList && !namedIn(provider.authRequestHeaders, name)) continue;
    bool inConnection = false;
    for (const auto& l : listed) inConnection = inConnection || iequals(l, name);
    if (inConnection) continue;
    appendField(out, toStd(name), toStd(f.value()));
  }

  appendField(out, "X-Forwarded-Method", facts.method);
  appendField(out, "X-Forwarded-Proto", facts.scheme);
  appendField(out, "X-Forwarded-Host", facts.host);
  appendField(out, "X-Forwarded-Uri", facts.target);
  appendField(out, "X-Forwarded-For", facts.clientIp);
  out += "\r\n";
}

AuthDecision interpretAuthAnswer(const model::SsoProvider& provider, unsigned status, const Fields& answerFields,
                                 bool browser, std::string_view originalUrl) {
  AuthDecision d;
  if (status < 200 || status > 599) {
    // Not a final HTTP status: nothing the client could be given, so garbage.
    d.kind = AuthDecision::Kind::Error;
    d.reason = "provider answered an invalid status " + std::to_string(status);
    return d;
  }
  if (status >= 500) {
    d.kind = AuthDecision::Kind::Error;
    d.reason = "provider answered " + std::to_string(status);
    return d;
  }
  if (status < 300) {
    d.kind = AuthDecision::Kind::Allow;
    d.identity.reserve(provider.authResponseHeaders.size());
    bool found = false;
    for (const auto& name : provider.authResponseHeaders) {
      std::string value = joinedValues(answerFields, name, ", ", &found);
      if (found) d.identity.emplace_back(name, std::move(value));
    }
    if (!provider.groupsHeader.empty()) {
      // Several lines are joined with the separator itself, so that
      // groupsAllowed() splits them as one list ("a|b" and "c" → "a|b|c").
      const std::string_view separator =
          provider.groupsSeparator.empty() ? std::string_view{","} : std::string_view{provider.groupsSeparator};
      d.groups = joinedValues(answerFields, provider.groupsHeader, separator, &found);
    }
    return d;
  }

  d.kind = AuthDecision::Kind::Deny;
  d.status = status;
  d.relay = true;
  if (status != 401 && status != 403) return d;  // 3xx and other 4xx: the provider's answer as is
  // A Location means the provider chose where the client goes.
  if (answerFields.find(http::field::location) != answerFields.end()) return d;
  // API clients get the 401/403 itself; the builtin provider has no login page to send anyone to.
  if (!browser || provider.loginUrl.empty()) return d;

  d.relay = false;
  d.status = 302;
  d.headers.emplace_back("Location", loginRedirect(provider.loginUrl, originalUrl));
  // The provider may have started a login flow (state, CSRF cookie) it expects back.
  const auto [begin, end] = answerFields.equal_range(http::field::set_cookie);
  for (auto it = begin; it != end; ++it)
    if (it->name() == http::field::set_cookie) d.headers.emplace_back("Set-Cookie", std::string{toStd(it->value())});
  return d;
}

std::string loginRedirect(std::string_view loginUrl, std::string_view originalUrl) {
  const auto hash = loginUrl.find('#');
  const std::string_view base = loginUrl.substr(0, hash);
  const std::string_view fragment = hash == std::string_view::npos ? std::string_view{} : loginUrl.substr(hash);

  std::string url;
  url.reserve(loginUrl.size() + 4 + 3 * originalUrl.size());
  url += base;
  if (base.find('?') == std::string_view::npos)
    url += '?';
  else if (base.back() != '?' && base.back() != '&')
    url += '&';
  url += "rd=";
  url += percentEncode(originalUrl);
  url += fragment;
  return url;
}

bool groupsAllowed(const std::vector<std::string>& required, std::string_view headerValue,
                   std::string_view separator) {
  if (required.empty()) return true;
  if (separator.empty()) separator = ",";
  while (true) {
    const auto at = headerValue.find(separator);
    const std::string_view group = trimOws(headerValue.substr(0, at));
    if (!group.empty())
      for (const auto& r : required)
        if (group == r) return true;
    if (at == std::string_view::npos) return false;
    headerValue.remove_prefix(at + separator.size());
  }
}

void applyIdentity(Fields& request, const std::vector<std::string>& names,
                   const std::vector<std::pair<std::string, std::string>>& identity) {
  // Every name is removed, sent by the provider or not: a name it left out
  // must not reach the upstream with the client's forged value.
  for (const auto& name : names) request.erase(toBeast(name));
  for (const auto& [name, value] : identity) request.set(toBeast(name), toBeast(value));
}

void removeCookie(Fields& request, std::string_view name) {
  // Most requests don't carry the cookie to remove: look before rewriting.
  bool present = false;
  const auto [begin, end] = request.equal_range(http::field::cookie);
  for (auto it = begin; it != end && !present; ++it) {
    if (it->name() != http::field::cookie) continue;
    present = forEachCookie(toStd(it->value()), [&](std::string_view n, std::string_view, std::string_view) {
      return n == name;
    });
  }
  if (!present) return;

  // Beast cannot rewrite one of several lines of a name in place: every Cookie
  // line is collected (rebuilt when it holds the cookie, else as sent), then
  // all are replaced in their order.
  std::vector<std::string> lines;
  for (auto it = begin; it != end; ++it) {
    if (it->name() != http::field::cookie) continue;
    const std::string_view line = toStd(it->value());
    std::string kept;
    bool removed = false;
    forEachCookie(line, [&](std::string_view n, std::string_view, std::string_view pair) {
      if (n == name) {
        removed = true;
      } else {
        if (!kept.empty()) kept += "; ";
        kept += pair;
      }
      return false;
    });
    if (!removed) kept = line;
    if (!trimOws(kept).empty()) lines.push_back(std::move(kept));
  }
  request.erase(http::field::cookie);
  for (const auto& line : lines) request.insert(http::field::cookie, toBeast(line));
}

std::string_view cookieValue(const Fields& request, std::string_view name) {
  std::string_view found;
  const auto [begin, end] = request.equal_range(http::field::cookie);
  for (auto it = begin; it != end; ++it) {
    if (it->name() != http::field::cookie) continue;
    const bool hit = forEachCookie(toStd(it->value()), [&](std::string_view n, std::string_view v, std::string_view) {
      if (n != name) return false;
      found = v;
      return true;
    });
    if (hit) return found;
  }
  return {};
}

}  // namespace proxyos::edge
