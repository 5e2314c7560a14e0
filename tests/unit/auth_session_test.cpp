// The auth service's pure decisions: the 401 doctor, rd validation, and what
// a request looks like behind trusted proxies; and the handoff endpoint of
// SessionApi over memory stores (handoff.h), including a foreign root domain
// that a route serves.
#include <gtest/gtest.h>

#include "group_directory.h"
#include "login_diagnosis.h"
#include "redirect_policy.h"
#include "request_view.h"
#include "session_api.h"
#include "shared/session/handoff.h"
#include "shared/session/memory_session_store.h"
#include "shared/session/service_token.h"
#include "shared/store/memory_kv_store.h"
#include "token_service.h"
#include "user_directory.h"

namespace proxyos::auth {
namespace {

Url url(const std::string& s) { return parseUrl(s).value(); }

http::Request request(std::string host, std::string remote = "203.0.113.9") {
  http::Request r;
  r.headers["host"] = std::move(host);
  r.remoteAddress = std::move(remote);
  return r;
}

session::Verification outcome(session::Verification::Outcome o, std::string kid = "") {
  session::Verification v;
  v.outcome = o;
  v.kid = std::move(kid);
  return v;
}

struct DiagnoseCase {
  std::string name;
  std::string publicUrl;
  RequestView view;
  bool cookieReceived;
  session::Verification::Outcome outcome;
  std::string cause;
};

TEST(Diagnose, NamesEachCause) {
  using O = session::Verification::Outcome;
  const std::vector<DiagnoseCase> cases = {
      {"https URL, page over http, no cookie", "https://proxy.example.com", {"http", "proxy.example.com", ""}, false,
       O::NoCookie, "secure_cookie_over_http"},
      {"opened by IP instead of name", "http://proxy.example.com", {"http", "192.168.1.10", ""}, false, O::NoCookie,
       "host_mismatch"},
      {"rotated secret", "http://proxy.example.com", {"http", "proxy.example.com", ""}, true, O::UnknownSigningSecret,
       "unknown_signing_secret"},
      {"expired", "http://proxy.example.com", {"http", "proxy.example.com", ""}, true, O::Expired, "session_expired"},
      {"revoked", "http://proxy.example.com", {"http", "proxy.example.com", ""}, true, O::Revoked, "session_revoked"},
      {"nothing sent, nothing wrong", "http://proxy.example.com", {"http", "proxy.example.com", ""}, false,
       O::NoCookie, "no_cookie_received"},
      {"forged", "http://proxy.example.com", {"http", "proxy.example.com", ""}, true, O::BadSignature,
       "invalid_signature"},
      {"fine", "https://proxy.example.com", {"https", "proxy.example.com", ""}, true, O::Valid, "ok"},
  };
  for (const auto& c : cases) {
    const auto d = diagnose(c.view, url(c.publicUrl), "", c.cookieReceived, outcome(c.outcome, "abcd1234"));
    EXPECT_EQ(d.cause, c.cause) << c.name;
    EXPECT_FALSE(d.message.empty()) << c.name;
  }
}

TEST(Diagnose, MessagesSayWhatToDo) {
  auto d = diagnose({"http", "proxy.example.com", ""}, url("https://proxy.example.com"), "", false, {});
  EXPECT_NE(d.message.find("https://proxy.example.com"), std::string::npos) << d.message;
  auto m = diagnose({"http", "10.0.0.5", ""}, url("http://proxy.example.com:8080"), "", false, {});
  EXPECT_NE(m.message.find("10.0.0.5"), std::string::npos) << m.message;
  EXPECT_NE(m.message.find("http://proxy.example.com:8080"), std::string::npos) << m.message;
  auto k = diagnose({"http", "proxy.example.com", ""}, url("http://proxy.example.com"), "", true,
                    outcome(session::Verification::Outcome::UnknownSigningSecret, "abcd1234"));
  EXPECT_NE(k.message.find("PROXYOS_SECRET_PREVIOUS"), std::string::npos) << k.message;
}

TEST(Diagnose, CookieDomainCoversSubdomains) {
  EXPECT_FALSE(cookieWillBeDropped({"http", "grafana.example.com", ""}, url("http://proxy.example.com"), "example.com"));
  EXPECT_TRUE(cookieWillBeDropped({"http", "grafana.other.com", ""}, url("http://proxy.example.com"), "example.com"));
  EXPECT_TRUE(hostInDomain("a.example.com", ".example.com"));
  EXPECT_FALSE(hostInDomain("badexample.com", "example.com"));
  EXPECT_FALSE(hostInDomain("example.com", ""));
}

TEST(RequestView, ForwardedHeadersOnlyFromTrustedProxies) {
  const auto trusted = parseCidrs({"10.0.0.0/8", "::1"});
  auto r = request("Proxy.Example.com:8080", "203.0.113.9");
  r.headers["x-forwarded-proto"] = "https";
  r.headers["x-forwarded-host"] = "evil.example";
  r.headers["x-forwarded-for"] = "198.51.100.7";
  auto untrusted = viewOf(r, trusted);
  EXPECT_EQ(untrusted.scheme, "http");
  EXPECT_EQ(untrusted.host, "proxy.example.com");
  EXPECT_EQ(untrusted.clientIp, "203.0.113.9");
  r.remoteAddress = "10.1.2.3";
  auto viaProxy = viewOf(r, trusted);
  EXPECT_EQ(viaProxy.scheme, "https");
  EXPECT_EQ(viaProxy.host, "evil.example");
  EXPECT_EQ(viaProxy.clientIp, "198.51.100.7");
  r.remoteAddress = "::1";
  EXPECT_EQ(viewOf(r, trusted).scheme, "https");
}

TEST(RedirectPolicy, RefusesOpenRedirects) {
  RedirectPolicy policy(url("https://proxy.example.com"), "example.com");
  for (const std::string ok : {"https://proxy.example.com/", "https://grafana.example.com/d/abc?x=1",
                               "http://wiki.example.com:8080/page"})
    EXPECT_TRUE(policy.check(ok).has_value()) << ok;
  for (const std::string bad :
       {"https://evil.com/", "//evil.com", "\\\\evil.com", "/\\evil.com", "https:/\\evil.com", "https://evil.com\\@proxy.example.com",
        "https://proxy.example.com@evil.com/", "https://evil.com#.example.com", "javascript:alert(1)",
        "https://evil.com%2F.example.com", "https://example.com.evil.com/", "https://proxy.example.com\r\nX: y",
        "/relative/path", "", "https://%65vil.com/", "HTTPS://EVIL.COM"})
    EXPECT_FALSE(policy.check(bad).has_value()) << bad;
}

TEST(RedirectPolicy, HostsThatRoutesServeAreAllowedButNeverForeignTricks) {
  std::vector<std::string> asked;
  RedirectPolicy policy(url("https://proxy.example.com"), "", [&](const std::string& host) {
    asked.push_back(host);
    return host == "wiki.other.org";
  });
  EXPECT_TRUE(policy.check("https://wiki.other.org/page").has_value());
  EXPECT_FALSE(policy.check("https://evil.com/").has_value());
  EXPECT_FALSE(policy.check("https://wiki.other.org@evil.com/").has_value());
  EXPECT_EQ(asked, (std::vector<std::string>{"wiki.other.org", "evil.com"})) << "userinfo tricks never reach the lookup";
}

TEST(RedirectPolicy, WithoutCookieDomainOnlyTheDashboardHost) {
  RedirectPolicy policy(url("http://proxy.test:8080"), "");
  EXPECT_TRUE(policy.check("http://proxy.test:8080/routes").has_value());
  EXPECT_FALSE(policy.check("http://other.test/").has_value());
  EXPECT_EQ(urlEncode("https://a.b/c?d=e&f"), "https%3A%2F%2Fa.b%2Fc%3Fd%3De%26f");
}

// ---- GET /api/auth/handoff ----

/// A handoff store that cannot be reached (Redis down).
class DownHandoffStore final : public session::HandoffStore {
 public:
  Result<std::string> issue(const session::HandoffGrant&, std::chrono::seconds) override { return down(); }
  Result<std::optional<session::HandoffGrant>> redeem(std::string_view) override { return down(); }

 private:
  static Error down() { return Error::make(ErrorKind::Unavailable, "session_store_unavailable", "down"); }
};

const std::string kDashboard = "https://dash.example.com";
const std::string kForeign = "wiki.other.org";  // another root domain, served by a route
const std::string kNonce = "nonce-of-the-browser";  // the edge's handoff cookie

/// SessionApi wired as auth_app.cpp wires it, over memory stores and a fake clock.
class HandoffApiTest : public ::testing::Test {
 protected:
  SessionApi makeApi(session::HandoffStore& handoffStore) {
    SessionSettings settings{url(kDashboard), "example.com", {}, policy, [](const std::string& host) {
                               return host == kForeign;
                             }};
    return SessionApi(settings, keys, sessions, handoffStore, verifier, limiter, users, guard, clock,
                      [](const std::string&) {});
  }
  /// A stored session; returns its cookie value.
  std::string login(const std::string& parentId = "", session::Session* out = nullptr) {
    const std::string token = session::newToken();
    session::Session s;
    s.id = session::sessionId(token);
    s.userId = "u-1";
    s.username = "alice";
    s.role = session::Role::Admin;
    s.created = s.lastSeen = clock.now();
    s.parentId = parentId;
    EXPECT_TRUE(sessions.put(s, session::storeTtl(policy, s, clock.now())).ok());
    if (out != nullptr) *out = s;
    return session::encodeCookie(keys, token);
  }
  static http::Request get(const std::string& path, const std::string& cookie, std::optional<std::string> rd) {
    http::Request r;
    r.method = "GET";
    r.path = path;
    if (rd) r.query["rd"] = *rd;
    r.query["state"] = session::handoffState(kNonce);
    if (!cookie.empty()) r.headers["cookie"] = std::string(session::kCookieName) + "=" + cookie;
    r.remoteAddress = "203.0.113.9";
    return r;
  }
  static std::string headerOf(const http::Response& r, const std::string& name) {
    for (const auto& [k, v] : r.headers)
      if (k == name) return v;
    return "";
  }
  static void expectNoStore(const http::Response& r, const std::string& what) {
    EXPECT_EQ(headerOf(r, "Cache-Control"), "no-store") << what;
    EXPECT_EQ(headerOf(r, "Referrer-Policy"), "no-referrer") << what;
  }
  /// The code of a callback Location, after checking everything before it.
  static std::string codeIn(const std::string& location, const std::string& callbackOrigin) {
    const std::string prefix = callbackOrigin + "/.proxyos/callback?code=";
    EXPECT_EQ(location.substr(0, prefix.size()), prefix) << location;
    return location.substr(std::min(prefix.size(), location.size()));
  }
  session::HandoffResult redeem(const std::string& code, const std::string& host) {
    return session::redeemHandoff(handoffs, sessions, keys, clock, policy, code, host, kNonce, "198.51.100.7", "ua");
  }

  const crypto::ScryptParams cheap{16, 1, 1};
  FakeClock clock;
  store::MemoryKvStore usersKv{clock}, groupsKv{clock}, tokensKv{clock};
  GroupDirectory groups{groupsKv, clock};
  UserDirectory users{usersKv, groups, clock, cheap};
  TokenService tokens{tokensKv, clock};
  const session::SigningKeys keys{"secret-A", {}};
  session::SessionPolicy policy;
  session::MemorySessionStore sessions{clock};
  session::MemoryHandoffStore handoffs{clock};
  session::SessionVerifier verifier{keys, sessions, clock, policy};
  session::ServiceAwareTokenVerifier anyToken{keys, clock, tokens};
  const http::ApiGuard guard{verifier, anyToken, kDashboard};
  session::MemoryLoginRateLimiter limiter{clock, {}};
};

TEST_F(HandoffApiTest, ForeignRootDomainGetsACodeItsEdgeCanRedeem) {
  auto api = makeApi(handoffs);
  session::Session parent;
  const auto cookie = login("", &parent);
  const std::string rd = "https://Wiki.Other.org:8443/page?x=1";
  const auto r = api.handoff(get("/api/auth/handoff", cookie, rd));
  ASSERT_EQ(r.status, 302) << r.body;
  expectNoStore(r, "code");
  const auto code = codeIn(headerOf(r, "Location"), "https://wiki.other.org:8443");
  EXPECT_EQ(code.size(), 43u);

  // The grant names the lower-case host without port, and this session.
  EXPECT_EQ(redeem(code, "wiki.other.org:8443").outcome, session::HandoffResult::Outcome::Refused);
  const auto again = api.handoff(get("/api/auth/handoff", cookie, rd));
  const auto ok = redeem(codeIn(headerOf(again, "Location"), "https://wiki.other.org:8443"), kForeign);
  ASSERT_EQ(ok.outcome, session::HandoffResult::Outcome::Ok);
  EXPECT_EQ(ok.rd, rd);
  EXPECT_EQ(ok.session.parentId, parent.id);
}

TEST_F(HandoffApiTest, CallbackKeepsTheSchemeAndAnExplicitPortOnly) {
  auto api = makeApi(handoffs);
  const auto cookie = login();
  EXPECT_FALSE(codeIn(headerOf(api.handoff(get("/api/auth/handoff", cookie, "http://wiki.other.org/x")), "Location"),
                      "http://wiki.other.org")
                   .empty());
  // A cookie-domain host the cookie cannot reach (host-only cookie elsewhere) is handed off too.
  EXPECT_FALSE(
      codeIn(headerOf(api.handoff(get("/api/auth/handoff", cookie, "https://grafana.example.com/d")), "Location"),
             "https://grafana.example.com")
          .empty());
}

TEST_F(HandoffApiTest, ALinkedSessionHandsOffItsParent) {
  auto api = makeApi(handoffs);
  session::Session parent;
  login("", &parent);
  const auto linkedCookie = login(parent.id);
  const auto r = api.handoff(get("/api/auth/handoff", linkedCookie, "https://wiki.other.org/"));
  ASSERT_EQ(r.status, 302) << r.body;
  const auto ok = redeem(codeIn(headerOf(r, "Location"), "https://wiki.other.org"), kForeign);
  ASSERT_EQ(ok.outcome, session::HandoffResult::Outcome::Ok);
  EXPECT_EQ(ok.session.parentId, parent.id) << "never a chain of linked sessions";
}

TEST_F(HandoffApiTest, WithoutAValidSessionToLoginAndBack) {
  auto api = makeApi(handoffs);
  const std::string rd = "https://wiki.other.org/page?x=1&y=2";
  const std::string expected =
      kDashboard + "/login?rd=" +
      urlEncode(kDashboard + "/api/auth/handoff?rd=" + urlEncode(rd) + "&state=" + session::handoffState(kNonce));
  const auto revoked = login();
  ASSERT_TRUE(sessions.revoke(session::sessionId(session::decodeCookie(keys, revoked).token), policy.absolute).ok());
  for (const std::string& cookie : {std::string(), revoked, std::string("garbage")}) {
    const auto r = api.handoff(get("/api/auth/handoff", cookie, rd));
    EXPECT_EQ(r.status, 302) << cookie;
    EXPECT_EQ(headerOf(r, "Location"), expected) << cookie;
    expectNoStore(r, "login " + cookie);
  }
}

TEST_F(HandoffApiTest, TheDashboardHostNeedsNoCode) {
  auto api = makeApi(handoffs);
  const auto r = api.handoff(get("/api/auth/handoff", login(), "https://dash.example.com/routes?x=1"));
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(headerOf(r, "Location"), "https://dash.example.com/routes?x=1");
  expectNoStore(r, "dashboard");
}

TEST_F(HandoffApiTest, RefusedRdIs400OnFieldRd) {
  auto api = makeApi(handoffs);
  const auto cookie = login();
  for (const std::optional<std::string>& rd :
       std::vector<std::optional<std::string>>{std::nullopt, "", "http://evil.example/", "//evil.example/",
                                               "\\evil.example", "/%2F%2Fevil.example",
                                               "http://evil.example%2F@wiki.other.org/", "javascript:alert(1)"}) {
    const auto r = api.handoff(get("/api/auth/handoff", cookie, rd));
    EXPECT_EQ(r.status, 400) << rd.value_or("(none)");
    const auto body = nlohmann::json::parse(r.body);
    EXPECT_EQ(body["error"]["code"], "invalid_redirect") << r.body;
    EXPECT_EQ(body["error"]["field"], "rd") << r.body;
    expectNoStore(r, rd.value_or("(none)"));
  }
}

TEST_F(HandoffApiTest, StoresDownAre503) {
  DownHandoffStore down;
  auto api = makeApi(down);
  const auto r = api.handoff(get("/api/auth/handoff", login(), "https://wiki.other.org/"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"]["code"], "session_store_unavailable");
  expectNoStore(r, "503");
}

TEST_F(HandoffApiTest, SessionListShowsParentOfLinkedSessions) {
  auto api = makeApi(handoffs);
  session::Session parent;
  const auto cookie = login("", &parent);
  session::Session linked;
  login(parent.id, &linked);
  const auto r = api.listSessions(get("/api/auth/sessions", cookie, std::nullopt));
  ASSERT_EQ(r.status, 200) << r.body;
  int seen = 0;
  const auto body = nlohmann::json::parse(r.body);
  for (const auto& s : body["sessions"]) {
    if (s["id"] == parent.id) {
      EXPECT_FALSE(s.contains("parentId")) << s.dump();
    } else {
      EXPECT_EQ(s["parentId"], parent.id) << s.dump();
    }
    ++seen;
  }
  EXPECT_EQ(seen, 2);
}

}  // namespace
}  // namespace proxyos::auth
