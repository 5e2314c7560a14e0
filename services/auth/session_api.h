#pragma once
// Login, logout, the current session, the 401 doctor, the built-in provider's
// forward-auth endpoint, the cross-domain handoff (handoff.h) and session
// administration (ARCHITECTURE.md §3, §4 auth).
#include <functional>
#include <string>
#include <vector>

#include "redirect_policy.h"
#include "shared/core/cidr.h"
#include "shared/http/api_guard.h"
#include "shared/http/router.h"
#include "shared/session/handoff.h"
#include "shared/session/login_rate_limiter.h"
#include "shared/session/session_verifier.h"
#include "user_directory.h"

namespace proxyos::auth {

struct SessionSettings {
  Url publicUrl;
  std::string cookieDomain;
  std::vector<Cidr> trustedProxies;
  session::SessionPolicy policy;
  RedirectPolicy::HostCheck servesHost;  // is this host one a route serves?
};

class SessionApi {
 public:
  using RevokedCallback = std::function<void(const std::string& sessionId)>;
  SessionApi(SessionSettings settings, const session::SigningKeys& keys, session::SessionStore& store,
             session::HandoffStore& handoffs, session::SessionVerifier& verifier, session::LoginRateLimiter& limiter,
             UserDirectory& users, const http::ApiGuard& guard, const Clock& clock, RevokedCallback onRevoked);

  void addRoutes(http::Router& router);

  http::Response login(const http::Request& req);
  http::Response logout(const http::Request& req);
  http::Response current(const http::Request& req);
  http::Response diagnose(const http::Request& req);
  http::Response verify(const http::Request& req);
  /// GET /api/auth/handoff?rd=: a one-time code for a host the cookie cannot reach.
  http::Response handoff(const http::Request& req);
  http::Response listSessions(const http::Request& req);
  http::Response revokeSession(const http::Request& req);

 private:
  session::CookieAttributes cookieAttributes() const;
  void warnOnceIfCookieWillBeDropped(const http::Request& req);
  Status revoke(const std::string& sessionId);
  http::Response handoffToLogin(const std::string& rd, const std::string& state) const;
  /// Where the login page goes after a login: `rd` (absolute, or a path on the
  /// dashboard) when the redirect policy accepts it, else nothing.
  std::optional<std::string> loginRedirect(const std::string& rd) const;
  http::Response handoffWithCode(const session::Session& s, const std::string& rd, const std::string& state);

  SessionSettings settings_;
  const session::SigningKeys& keys_;
  session::SessionStore& store_;
  session::HandoffStore& handoffs_;
  session::SessionVerifier& verifier_;
  session::LoginRateLimiter& limiter_;
  UserDirectory& users_;
  const http::ApiGuard& guard_;
  const Clock& clock_;
  RevokedCallback onRevoked_;
  RedirectPolicy redirects_;
  std::mutex warnedMu_;
  std::vector<std::string> warned_;
};

}  // namespace proxyos::auth
