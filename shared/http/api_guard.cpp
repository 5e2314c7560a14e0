#include "shared/http/api_guard.h"

namespace proxyos::http {

namespace {
Error unauthenticated(const std::string& why) {
  return Error::make(ErrorKind::Unauthorized, "unauthenticated", "authentication required: " + why);
}
}  // namespace

bool isUnsafeMethod(const std::string& method) { return method != "GET" && method != "HEAD" && method != "OPTIONS"; }

ApiGuard::ApiGuard(session::SessionVerifier& sessions, session::TokenVerifier& tokens, std::string allowedOrigin)
    : sessions_(sessions), tokens_(tokens), allowedOrigin_(std::move(allowedOrigin)) {}

session::Principal ApiGuard::identify(const Request& req) const {
  const std::string authorization = req.header("authorization");
  if (!authorization.empty()) {
    if (authorization.rfind("Bearer ", 0) != 0) throw ErrorException(unauthenticated("Authorization must be Bearer"));
    auto p = tokens_.verify(authorization.substr(7));
    if (!p) throw ErrorException(p.error());
    if (!p.value()) throw ErrorException(unauthenticated("invalid, expired or revoked API token"));
    return *p.value();
  }
  const auto cookie = session::cookieFromHeader(req.header("cookie"), session::kCookieName);
  if (!cookie) throw ErrorException(unauthenticated("no session cookie or API token"));
  const auto v = sessions_.verify(*cookie);
  if (v.outcome == session::Verification::Outcome::StoreUnavailable)
    throw ErrorException(Error::make(ErrorKind::Unavailable, "session_store_unavailable",
                                     "the session store (Redis) is unavailable"));
  if (!v.valid()) throw ErrorException(unauthenticated(v.reason()));
  return {v.session.userId, v.session.username, v.session.role, session::Principal::Via::Cookie, v.session.id, ""};
}

session::Principal ApiGuard::require(const Request& req, Access access) const {
  auto p = identify(req);
  const bool allowed = access == Access::Read ? session::canReadAdminApi(p.role) : session::canWriteAdminApi(p.role);
  if (!allowed)
    throw ErrorException(Error::make(ErrorKind::Forbidden, "forbidden",
                                     "role " + session::roleName(p.role) + " may not " +
                                         (access == Access::Read ? "read" : "change") + " this"));
  if (p.via == session::Principal::Via::Cookie && isUnsafeMethod(req.method) && req.header("origin") != allowedOrigin_)
    throw ErrorException(Error::make(ErrorKind::Forbidden, "csrf",
                                     "cookie-authenticated changes must come with Origin: " + allowedOrigin_));
  return p;
}

}  // namespace proxyos::http
