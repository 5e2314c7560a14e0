#pragma once
// Host name rules shared by routes (domains), SSO providers and the cookie
// domain. Names are compared and stored lower-case; callers normalize with
// toLowerAscii() first and validate the result.
#include <optional>
#include <string>
#include <string_view>

namespace proxyos::model {

/// What is wrong with a host name: `code` is "invalid_hostname" or
/// "invalid_wildcard"; `message` names the problem without a field path.
struct HostnameProblem {
  std::string code;
  std::string message;
};

/// Checks an RFC 1123 host name: labels of 1-63 characters [a-z0-9-], not
/// starting or ending with '-', at most 253 characters, no empty label, no
/// trailing dot, no port. With `allowWildcard`, "*" may be the whole leftmost
/// label when at least two labels follow ("*.example.com", not "*.com").
/// Expects lower-case input: upper case is reported, not folded.
std::optional<HostnameProblem> checkHostname(std::string_view host, bool allowWildcard);

/// checkHostname() reduced to its message; nullopt when the name is valid.
std::optional<std::string> hostnameError(const std::string& host, bool allowWildcard);

/// True for "*.<rest>" (says nothing about whether <rest> is valid).
bool isWildcardHostname(std::string_view host);

/// ASCII-only lower-casing: host names are ASCII (IDNs travel as punycode),
/// and locale-dependent tolower() could fold other bytes.
std::string toLowerAscii(std::string s);

}  // namespace proxyos::model
