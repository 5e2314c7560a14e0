#pragma once
// The 401 doctor: why a browser has no working session (ARCHITECTURE.md §3).
#include <optional>
#include <string>

#include "request_view.h"
#include "shared/core/url.h"
#include "shared/session/session_verifier.h"

namespace proxyos::auth {

struct Diagnosis {
  std::string cause;    // secure_cookie_over_http | host_mismatch | unknown_signing_secret | session_expired |
                        // session_revoked | invalid_signature | malformed_cookie | no_cookie_received | ok
  std::string message;  // plain words for the login page
};

/// Why a login made through this request would not stick: the cookie is Secure
/// but the page is plain HTTP, or the host differs from PROXYOS_URL's (and the
/// cookie domain does not cover it). nullopt when the browser will keep it.
std::optional<Diagnosis> cookieWillBeDropped(const RequestView& view, const Url& publicUrl,
                                             const std::string& cookieDomain);

/// Full diagnosis given whether a cookie arrived and what verifying it said.
Diagnosis diagnose(const RequestView& view, const Url& publicUrl, const std::string& cookieDomain, bool cookieReceived,
                   const session::Verification& verification);

/// True when `host` is `domain` or a subdomain of it (leading '.' ignored).
bool hostInDomain(const std::string& host, const std::string& domain);

}  // namespace proxyos::auth
