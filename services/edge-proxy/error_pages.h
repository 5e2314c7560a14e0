#pragma once
// Small HTML bodies for the responses the edge generates itself. They name
// the status and, for 502/504, say that the upstream did not answer — never
// which upstream, its address or the error text (internal topology stays
// internal).
#include <string>
#include <string_view>

namespace proxyos::edge {

/// The page for `status` (any status; a generic page for ones without a
/// dedicated text). The view stays valid for the life of the process:
/// pages are rendered once and shared by every thread.
std::string_view errorPage(unsigned status);

/// A page for `status` that says `text` (HTML-escaped here), for answers
/// that must explain themselves: which SSO provider is down, which groups a
/// route requires.
std::string errorPageSaying(unsigned status, std::string_view text);

/// The JSON error body of the APIs ({"error":{"code":…,"message":…}}), for
/// the answers the edge gives itself on the dashboard's host.
std::string jsonErrorBody(std::string_view code, std::string_view message);

/// Standard reason phrase ("Bad Gateway"), or "Error".
std::string_view reasonPhrase(unsigned status);

}  // namespace proxyos::edge
