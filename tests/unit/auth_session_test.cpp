// The auth service's pure decisions: the 401 doctor, rd validation, and what
// a request looks like behind trusted proxies.
#include <gtest/gtest.h>

#include "login_diagnosis.h"
#include "redirect_policy.h"
#include "request_view.h"

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

}  // namespace
}  // namespace proxyos::auth
