#pragma once
// Authentication and authorization of the admin APIs (ARCHITECTURE.md §3):
// the proxyos_session cookie or `Authorization: Bearer <api token>`; admin
// writes, viewer reads; a cookie-authenticated unsafe method must carry an
// Origin equal to PROXYOS_URL's origin (CSRF). Fails closed: a store that
// cannot answer is 503, never a pass.
#include <string>

#include "shared/http/message.h"
#include "shared/session/principal.h"
#include "shared/session/session_verifier.h"

namespace proxyos::http {

enum class Access { Read, Write };

class ApiGuard {
 public:
  ApiGuard(session::SessionVerifier& sessions, session::TokenVerifier& tokens, std::string allowedOrigin);

  /// Who is calling, or throws ErrorException: 401 `unauthenticated` (with the
  /// cookie's failure reason in the message), 403 `forbidden` / `csrf`, 503.
  session::Principal require(const Request& req, Access access) const;
  /// Like require() without the role and CSRF checks: any logged-in user.
  session::Principal identify(const Request& req) const;

 private:
  session::SessionVerifier& sessions_;
  session::TokenVerifier& tokens_;
  std::string allowedOrigin_;
};

/// True for methods that change state (everything but GET, HEAD, OPTIONS).
bool isUnsafeMethod(const std::string& method);

}  // namespace proxyos::http
