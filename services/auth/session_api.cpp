#include "session_api.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "login_diagnosis.h"
#include "request_view.h"
#include "shared/core/time_format.h"
#include "shared/model/json_reader.h"

namespace proxyos::auth {

namespace {

std::string joined(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

bool wantsHtml(const http::Request& req) { return req.header("accept").find("text/html") != std::string::npos; }

Error unauthorized(const std::string& code, const std::string& message) {
  return Error::make(ErrorKind::Unauthorized, code, message);
}

http::Response redirectTo(const std::string& location) {
  http::Response r;
  r.status = 302;
  r.contentType.clear();
  r.header("Location", location);
  return r;
}

// A handoff answer carries a one-time code (or leads to one): no cache may
// keep it, and the next page must not see it in a Referer.
http::Response noStore(http::Response r) {
  r.header("Cache-Control", "no-store").header("Referrer-Policy", "no-referrer");
  return r;
}

Error storeUnavailable() {
  return Error::make(ErrorKind::Unavailable, "session_store_unavailable", "the session store (Redis) is unavailable");
}

}  // namespace

SessionApi::SessionApi(SessionSettings settings, const session::SigningKeys& keys, session::SessionStore& store,
                       session::HandoffStore& handoffs, session::SessionVerifier& verifier,
                       session::LoginRateLimiter& limiter, UserDirectory& users, const http::ApiGuard& guard,
                       const Clock& clock, RevokedCallback onRevoked)
    : settings_(std::move(settings)),
      keys_(keys),
      store_(store),
      handoffs_(handoffs),
      verifier_(verifier),
      limiter_(limiter),
      users_(users),
      guard_(guard),
      clock_(clock),
      onRevoked_(std::move(onRevoked)),
      redirects_(settings_.publicUrl, settings_.cookieDomain, settings_.servesHost) {}

void SessionApi::addRoutes(http::Router& r) {
  r.add("POST", "/api/auth/login", [this](const http::Request& q) { return login(q); });
  r.add("POST", "/api/auth/logout", [this](const http::Request& q) { return logout(q); });
  r.add("GET", "/api/auth/session", [this](const http::Request& q) { return current(q); });
  r.add("GET", "/api/auth/diagnose", [this](const http::Request& q) { return diagnose(q); });
  r.add("GET", "/api/auth/verify", [this](const http::Request& q) { return verify(q); });
  r.add("GET", "/api/auth/handoff", [this](const http::Request& q) { return handoff(q); });
  r.add("GET", "/api/auth/sessions", [this](const http::Request& q) { return listSessions(q); });
  r.add("DELETE", "/api/auth/sessions/{id}", [this](const http::Request& q) { return revokeSession(q); });
}

session::CookieAttributes SessionApi::cookieAttributes() const {
  return {settings_.publicUrl.scheme == "https", settings_.cookieDomain, settings_.policy.absolute};
}

void SessionApi::warnOnceIfCookieWillBeDropped(const http::Request& req) {
  const auto dropped = cookieWillBeDropped(viewOf(req, settings_.trustedProxies), settings_.publicUrl,
                                           settings_.cookieDomain);
  if (!dropped) return;
  std::lock_guard lock(warnedMu_);
  if (std::find(warned_.begin(), warned_.end(), dropped->cause) != warned_.end()) return;
  warned_.push_back(dropped->cause);
  spdlog::warn("login succeeded but the browser will drop the session cookie ({}): {}", dropped->cause,
               dropped->message);
}

Status SessionApi::revoke(const std::string& sessionId) {
  auto s = store_.revoke(sessionId, settings_.policy.absolute);
  if (!s) return s;
  onRevoked_(sessionId);
  return okStatus();
}

http::Response SessionApi::login(const http::Request& req) {
  auto body = model::parseJsonObject(req.body).orThrow();
  model::ErrorCollector errors;
  std::string username, password, rd;
  model::JsonObjectReader reader(body, "", errors);
  if (!reader.readString("username", username) && !reader.has("username")) errors.add("username", "required", "required");
  if (!reader.readString("password", password) && !reader.has("password")) errors.add("password", "required", "required");
  reader.readString("rd", rd);  // optional: where the login page goes next
  reader.finish();
  if (!errors.empty()) throw ErrorException(errors.toError());

  const auto view = viewOf(req, settings_.trustedProxies);
  auto decision = limiter_.check(username, view.clientIp).orThrow();
  if (!decision.allowed)
    return http::Response::error(Error::make(ErrorKind::TooManyRequests, "too_many_attempts",
                                             "too many failed logins; try again in " +
                                                 std::to_string(decision.retryAfter.count()) + " s"))
        .header("Retry-After", std::to_string(decision.retryAfter.count()));

  auto user = users_.checkPassword(username, password).orThrow();
  if (!user) {
    (void)limiter_.recordFailure(username, view.clientIp);
    // One answer for an unknown user and a wrong password.
    throw ErrorException(unauthorized("invalid_credentials", "wrong username or password"));
  }
  const auto role = session::parseRole(user->role).value_or(session::Role::User);
  const auto now = clock_.now();
  const std::string token = session::newToken();
  session::Session s{session::sessionId(token), user->id, user->username, user->email, user->groups, role, now, now,
                     view.clientIp, req.header("user-agent").substr(0, 256)};
  store_.put(s, storeTtl(settings_.policy, s, now)).orThrow();
  warnOnceIfCookieWillBeDropped(req);
  spdlog::info("login user={} session={}", user->username, s.id.substr(0, 12));
  nlohmann::ordered_json answer = {{"user",
                            {{"id", user->id},
                             {"username", user->username},
                             {"email", user->email},
                             {"groups", user->groups},
                             {"role", user->role}}},
                           {"expiresAt", formatTime(settings_.policy.expiresAt(s))}};
  // The login page follows `redirect` only: an rd the policy refuses is dropped, never an open redirect.
  if (auto next = loginRedirect(rd)) answer["redirect"] = *next;
  return http::Response::json(200, answer)
      .header("Set-Cookie", session::setCookieHeader(session::encodeCookie(keys_, token), cookieAttributes()));
}

std::optional<std::string> SessionApi::loginRedirect(const std::string& rd) const {
  if (rd.empty()) return std::nullopt;
  // A path on the dashboard ("/routes", "/api/auth/handoff?…"), but not "//host" or "/\\host".
  if (rd[0] == '/') {
    if (rd.size() > 1 && (rd[1] == '/' || rd[1] == '\\')) return std::nullopt;
    return redirects_.check(settings_.publicUrl.origin() + rd);
  }
  return redirects_.check(rd);
}

http::Response SessionApi::logout(const http::Request& req) {
  const auto cookie = session::cookieFromHeader(req.header("cookie"), session::kCookieName);
  // A cookie-authenticated change like any other: another site must not be able to log users out.
  if (cookie && req.header("origin") != settings_.publicUrl.origin())
    throw ErrorException(Error::make(ErrorKind::Forbidden, "csrf",
                                     "logout with a session cookie must come with Origin: " + settings_.publicUrl.origin()));
  if (cookie) {
    const auto v = verifier_.verify(*cookie);
    if (v.outcome == session::Verification::Outcome::StoreUnavailable)
      throw ErrorException(Error::make(ErrorKind::Unavailable, "session_store_unavailable",
                                       "the session store (Redis) is unavailable; the session was NOT ended"));
    if (v.valid()) {
      revoke(v.session.id).orThrow();
      spdlog::info("logout user={} session={}", v.session.username, v.session.id.substr(0, 12));
    }
  }
  return http::Response::noContent().header("Set-Cookie", session::clearCookieHeader(cookieAttributes()));
}

http::Response SessionApi::current(const http::Request& req) {
  // API tokens identify themselves here too: other services verify tokens this way.
  if (!req.header("authorization").empty()) {
    const auto p = guard_.identify(req);
    return http::Response::json(200, {{"userId", p.userId},
                                      {"username", p.username},
                                      {"role", session::roleName(p.role)},
                                      {"via", "token"},
                                      {"tokenId", p.tokenId}});
  }
  const auto cookie = session::cookieFromHeader(req.header("cookie"), session::kCookieName);
  if (!cookie) throw ErrorException(unauthorized("no_cookie_received", "not logged in"));
  const auto v = verifier_.verify(*cookie);
  if (v.outcome == session::Verification::Outcome::StoreUnavailable)
    throw ErrorException(Error::make(ErrorKind::Unavailable, "session_store_unavailable",
                                     "the session store (Redis) is unavailable"));
  if (!v.valid()) throw ErrorException(unauthorized(v.reason(), "not logged in: " + v.reason()));
  auto resp = http::Response::json(200, {{"userId", v.session.userId},
                                         {"username", v.session.username},
                                         {"email", v.session.email},
                                         {"groups", v.session.groups},
                                         {"role", session::roleName(v.session.role)},
                                         {"via", "cookie"},
                                         {"sessionId", v.session.id},
                                         {"createdAt", formatTime(v.session.created)},
                                         {"expiresAt", formatTime(verifier_.policy().expiresAt(v.session))}});
  // Signed with a previous secret: hand out the same session under the current one.
  if (v.reissue) resp.header("Set-Cookie", session::setCookieHeader(v.reissuedCookie, cookieAttributes()));
  return resp;
}

http::Response SessionApi::diagnose(const http::Request& req) {
  const auto view = viewOf(req, settings_.trustedProxies);
  const auto cookie = session::cookieFromHeader(req.header("cookie"), session::kCookieName);
  session::Verification v;
  if (cookie) v = verifier_.verify(*cookie);
  const auto d = auth::diagnose(view, settings_.publicUrl, settings_.cookieDomain, cookie.has_value(), v);
  nlohmann::ordered_json out{{"cause", d.cause},
                             {"message", d.message},
                             {"request", {{"scheme", view.scheme}, {"host", view.host}}},
                             {"expected", {{"scheme", settings_.publicUrl.scheme}, {"host", settings_.publicUrl.host},
                                           {"cookieDomain", settings_.cookieDomain}}},
                             {"cookieReceived", cookie.has_value()}};
  if (!v.kid.empty()) {
    out["cookieKeyId"] = v.kid;
    out["keyIdKnown"] = keys_.secretFor(v.kid) != nullptr;
  }
  if (v.valid()) out["expiresAt"] = formatTime(verifier_.policy().expiresAt(v.session));
  return http::Response::json(200, out);
}

http::Response SessionApi::verify(const http::Request& req) {
  const auto cookie = session::cookieFromHeader(req.header("cookie"), session::kCookieName);
  const auto v = cookie ? verifier_.verify(*cookie) : session::Verification{};
  if (v.outcome == session::Verification::Outcome::StoreUnavailable)
    throw ErrorException(Error::make(ErrorKind::Unavailable, "session_store_unavailable",
                                     "the session store (Redis) is unavailable"));  // fail closed
  if (v.valid()) {
    http::Response ok;
    ok.status = 200;
    ok.contentType.clear();
    ok.header("X-Auth-User", v.session.username)
        .header("X-Auth-Email", v.session.email)
        .header("X-Auth-Groups", joined(v.session.groups, ","));
    return ok;
  }
  if (!wantsHtml(req)) throw ErrorException(unauthorized("unauthenticated", "not logged in: " + v.reason()));
  std::string location = settings_.publicUrl.origin() + "/login";
  const std::string proto = req.header("x-forwarded-proto"), host = req.header("x-forwarded-host"),
                    uri = req.header("x-forwarded-uri");
  if (!proto.empty() && !host.empty()) {
    if (auto rd = redirects_.check(proto + "://" + host + (uri.empty() ? "/" : uri))) location += "?rd=" + urlEncode(*rd);
  }
  http::Response redirect;
  redirect.status = 302;
  redirect.contentType.clear();
  redirect.header("Location", location);
  return redirect;
}

http::Response SessionApi::handoff(const http::Request& req) {
  const auto rd = redirects_.check(req.queryParam("rd"));
  if (!rd)
    return noStore(http::Response::error(
        {ErrorKind::BadRequest, "invalid_redirect", "rd must be an absolute http(s) URL on a host ProxyOS serves",
         "rd", {}}));
  // The dashboard host already has the cookie: nothing to carry, no state.
  const bool dashboardHost = parseUrl(*rd).value().host == settings_.publicUrl.host;
  const std::string state = req.queryParam("state");
  if (!dashboardHost && !session::isHandoffState(state))
    return noStore(http::Response::error(
        {ErrorKind::BadRequest, "invalid_state",
         "state must be the 64 hex digits the edge sent (start again from the page you wanted)", "state", {}}));
  const auto cookie = session::cookieFromHeader(req.header("cookie"), session::kCookieName);
  const auto v = cookie ? verifier_.verify(*cookie) : session::Verification{};
  if (v.outcome == session::Verification::Outcome::StoreUnavailable)
    return noStore(http::Response::error(storeUnavailable()));  // fail closed
  if (!v.valid()) return noStore(handoffToLogin(*rd, state));
  auto resp = dashboardHost ? redirectTo(*rd) : handoffWithCode(v.session, *rd, state);
  if (v.reissue) resp.header("Set-Cookie", session::setCookieHeader(v.reissuedCookie, cookieAttributes()));
  return noStore(std::move(resp));
}

http::Response SessionApi::handoffToLogin(const std::string& rd, const std::string& state) const {
  // Back here after the login, so the code is issued then.
  const std::string origin = settings_.publicUrl.origin();
  std::string back = origin + "/api/auth/handoff?rd=" + urlEncode(rd);
  if (!state.empty()) back += "&state=" + state;
  return redirectTo(origin + "/login?rd=" + urlEncode(back));
}

http::Response SessionApi::handoffWithCode(const session::Session& s, const std::string& rd,
                                           const std::string& state) {
  const Url target = parseUrl(rd).value();  // the policy has parsed it already
  // A linked session hands off its dashboard session, so every linked session
  // hangs directly off the one a logout ends.
  const session::HandoffGrant grant{s.parentId.empty() ? s.id : s.parentId, target.host, rd, state};
  auto code = handoffs_.issue(grant, session::kHandoffTtl);
  if (!code) return http::Response::error(code.error());
  spdlog::info("handoff issued user={} session={} host={}", s.username, grant.sessionId.substr(0, 12), grant.host);
  return redirectTo(target.origin() + std::string(session::kCallbackPath) + "?code=" + code.value());
}

http::Response SessionApi::listSessions(const http::Request& req) {
  const auto caller = guard_.require(req, http::Access::Read);
  auto sessions = store_.list().orThrow();
  std::sort(sessions.begin(), sessions.end(), [](const auto& a, const auto& b) { return a.created < b.created; });
  auto arr = nlohmann::ordered_json::array();
  for (const auto& s : sessions) {
    nlohmann::ordered_json item{{"id", s.id},
                                {"userId", s.userId},
                                {"username", s.username},
                                {"role", session::roleName(s.role)},
                                {"createdAt", formatTime(s.created)},
                                {"lastSeenAt", formatTime(s.lastSeen)},
                                {"expiresAt", formatTime(settings_.policy.expiresAt(s))},
                                {"clientIp", s.clientIp},
                                {"userAgent", s.userAgent},
                                {"current", s.id == caller.sessionId}};
    if (!s.parentId.empty()) item["parentId"] = s.parentId;  // opened on another host by a handoff
    arr.push_back(std::move(item));
  }
  return http::Response::json(200, {{"sessions", arr}});
}

http::Response SessionApi::revokeSession(const http::Request& req) {
  guard_.require(req, http::Access::Write);
  const std::string& id = req.param("id");
  auto existing = store_.get(id).orThrow();
  if (!existing)
    throw ErrorException(Error::make(ErrorKind::NotFound, "session_not_found", "no active session with id " + id));
  revoke(id).orThrow();
  spdlog::info("session revoked by admin: user={} session={}", existing->username, id.substr(0, 12));
  return http::Response::noContent();
}

}  // namespace proxyos::auth
