#pragma once
// The SSO step of ARCHITECTURE.md §2 step 4 as pure functions: what the
// forward-auth sub-request carries, what the provider's answer means, the
// group check, the identity headers the upstream gets and the login
// redirect. No I/O and no clock: the data plane (sso_gate.h) calls these
// around its sub-request; unit tests call them directly.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "header_arena.h"
#include "shared/model/sso_provider.h"

namespace proxyos::edge {

/// The client's request as the SSO step sees it, before it is rewritten for
/// the upstream.
struct SsoRequestFacts {
  std::string_view method;    // "GET", ...
  std::string_view scheme;    // "http" | "https": the client connection's
  std::string_view host;      // the Host header as sent (a port kept)
  std::string_view target;    // origin-form, query included ("/a%20b?x=1")
  std::string_view clientIp;  // the TCP peer
};

/// "<scheme>://<host><target>": what `rd` carries back to after login.
std::string originalUrl(const SsoRequestFacts& facts);

/// True for a browser: an Accept header that contains "text/html"
/// (case-insensitive). API clients (no Accept, application/json, */*) are not.
bool isBrowser(const Fields& clientFields);

/// Appends the forward-auth sub-request head to `out` in wire form:
///   GET <authTarget> HTTP/1.1\r\n
///   Host: <authHost>\r\n
///   <copied client fields>
///   X-Forwarded-Method / -Proto / -Host / -Uri / -For\r\n
///   \r\n
/// Copied client fields: all of them, or only those named (case-insensitive)
/// in provider.authRequestHeaders when it is not empty — but never Host,
/// hop-by-hop fields (Connection, Keep-Alive, Proxy-Connection, TE, Trailer,
/// Transfer-Encoding, Upgrade, Proxy-Authorization, Proxy-Authenticate, and
/// every name listed in Connection), Content-Length, Expect, nor any
/// X-Forwarded-* the client sent (the edge's own values replace them: the
/// edge is the first proxy, so the client's are forgeries). No body, so no
/// Content-Length. X-Forwarded-Host is facts.host, -Uri facts.target,
/// -For facts.clientIp, -Proto facts.scheme, -Method facts.method.
/// Field values are copied byte for byte (the parser has already rejected
/// CR/LF in them).
void appendAuthRequestHead(const model::SsoProvider& provider, std::string_view authTarget, std::string_view authHost,
                           const Fields& clientFields, const SsoRequestFacts& facts, std::string& out);

/// Allow, Deny or Error (STYLE.md): what the provider's answer means for the
/// client's request.
struct AuthDecision {
  enum class Kind {
    Allow,  // proxy to the upstream with `identity` applied
    Deny,   // answer the client: see `relay` / `status` / `headers`
    Error,  // fail closed: 503 page naming the provider; `reason` for the log
  };
  Kind kind = Kind::Error;

  /// Allow: for each name of provider.authResponseHeaders, in that order,
  /// the provider's value when it sent one (several lines of one name joined
  /// with ", "). Names the provider did not send are absent here, and are
  /// still removed from the client's request (applyIdentity).
  std::vector<std::pair<std::string, std::string>> identity;
  /// Allow: the value of provider.groupsHeader from the answer ("" if none).
  std::string groups;

  /// Deny with `relay` true: send the provider's own response to the client
  /// (its status, its end-to-end fields but not hop-by-hop ones or
  /// Content-Length, and its body). Used for 3xx, for 401/403 to API
  /// clients and for 401/403 that carry a Location, and for any other
  /// non-2xx, non-5xx status.
  bool relay = false;
  /// Deny with `relay` false: a 302 to the provider's loginUrl with
  /// rd=<original URL> (401/403 without Location, browser client). `headers`
  /// holds Location first, then every Set-Cookie of the provider's answer.
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> headers;

  /// Error: why, for the log ("provider answered 500").
  std::string reason;
};

/// Interprets the provider's answer (§2 step 4):
///   2xx → Allow; 3xx → Deny relay; 401/403 with Location → Deny relay;
///   401/403 without Location → browser: Deny 302 to
///   loginRedirect(provider.loginUrl, originalUrl), API client: Deny relay;
///   5xx → Error; any other status (1xx cannot reach here; 4xx) → Deny relay.
/// A provider whose loginUrl is empty (builtin) never gets the 302: its
/// 401/403 are relayed.
AuthDecision interpretAuthAnswer(const model::SsoProvider& provider, unsigned status, const Fields& answerFields,
                                 bool browser, std::string_view originalUrl);

/// `loginUrl` with rd=<percent-encoded originalUrl> appended (after '?' or
/// '&' as the URL needs; a fragment stays last). Every byte outside
/// unreserved (A-Z a-z 0-9 - . _ ~) is percent-encoded.
std::string loginRedirect(std::string_view loginUrl, std::string_view originalUrl);

/// True when `required` is empty, or when one of the groups in `headerValue`
/// (split on `separator`; each group trimmed of spaces and tabs; empty ones
/// ignored) equals one of `required` exactly (case-sensitive). An empty
/// separator means ",".
bool groupsAllowed(const std::vector<std::string>& required, std::string_view headerValue,
                   std::string_view separator);

/// Makes forged identity impossible: removes every field named in `names`
/// (case-insensitive) from the client's request, then sets each pair of
/// `identity`.
void applyIdentity(Fields& request, const std::vector<std::string>& names,
                   const std::vector<std::pair<std::string, std::string>>& identity);

/// Removes the cookie `name` from the request's Cookie field(s), keeping the
/// others in order; removes the field when nothing is left. The built-in
/// provider's session cookie is the edge's business, never the upstream's.
void removeCookie(Fields& request, std::string_view name);

/// The value of cookie `name` in the request's Cookie field(s), or "".
std::string_view cookieValue(const Fields& request, std::string_view name);

}  // namespace proxyos::edge
