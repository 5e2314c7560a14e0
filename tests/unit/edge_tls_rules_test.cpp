// The pure rules of HTTPS on the edge (edge_tls.h): which paths are ACME
// challenges, and where forceHttps sends a plain-HTTP request.
#include <gtest/gtest.h>

#include "services/edge-proxy/edge_tls.h"

namespace proxyos::edge {
namespace {

TEST(AcmeChallengeToken, OnlyBase64UrlTokensUnderTheWellKnownPath) {
  EXPECT_EQ(acmeChallengeToken("/.well-known/acme-challenge/abc-DEF_123"), "abc-DEF_123");
  EXPECT_FALSE(acmeChallengeToken("/.well-known/acme-challenge/"));
  EXPECT_FALSE(acmeChallengeToken("/.well-known/acme-challenge/a/b"));
  EXPECT_FALSE(acmeChallengeToken("/.well-known/acme-challenge/a.b"));
  EXPECT_FALSE(acmeChallengeToken("/.well-known/acme-challenge/%41"));
  EXPECT_FALSE(acmeChallengeToken("/.well-known/acme-challengeX/abc"));
  EXPECT_FALSE(acmeChallengeToken("/x/.well-known/acme-challenge/abc"));
  EXPECT_FALSE(acmeChallengeToken("/.well-known/acme-challenge/" + std::string(257, 'a')));
}

TEST(HttpsRedirectUrl, KeepsTheTargetAndMapsAnExplicitPortToTheHttpsListener) {
  EXPECT_EQ(httpsRedirectUrl("app.test", "/a?b=1", 8443), "https://app.test/a?b=1");
  EXPECT_EQ(httpsRedirectUrl("app.test:8080", "/a?b=1", 8443), "https://app.test:8443/a?b=1");
  EXPECT_EQ(httpsRedirectUrl("app.test:80", "/", 443), "https://app.test/");
  EXPECT_EQ(httpsRedirectUrl("[::1]:8080", "/x", 8443), "https://[::1]:8443/x");
  EXPECT_EQ(httpsRedirectUrl("[::1]", "/x", 8443), "https://[::1]/x");
  EXPECT_EQ(httpsRedirectUrl("app.test", "", 8443), "https://app.test/");
}

}  // namespace
}  // namespace proxyos::edge
