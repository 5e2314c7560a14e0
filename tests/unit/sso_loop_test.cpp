#include <gtest/gtest.h>

#include "shared/model/sso_loop.h"

namespace proxyos::model {
namespace {

TEST(SsoLoop, DomainServesHost) {
  EXPECT_TRUE(domainServesHost("auth.example.com", "AUTH.example.com"));
  EXPECT_TRUE(domainServesHost("*.example.com", "auth.example.com"));
  EXPECT_FALSE(domainServesHost("*.example.com", "a.auth.example.com"));
  EXPECT_FALSE(domainServesHost("*.example.com", "example.com"));
  EXPECT_FALSE(domainServesHost("auth.example.com", "auth.example.com.evil"));
}

TEST(SsoLoop, FindsTheDomainAndTheUrl) {
  const std::string fa = "http://authelia:9091/api/authz/forward-auth", login = "https://auth.example.com/";
  EXPECT_FALSE(findSsoLoop({"grafana.example.com"}, fa, login).has_value());
  auto viaLogin = findSsoLoop({"grafana.example.com", "auth.example.com"}, fa, login);
  ASSERT_TRUE(viaLogin.has_value());
  EXPECT_EQ(viaLogin->domainIndex, 1u);
  EXPECT_EQ(viaLogin->urlField, "loginUrl");
  EXPECT_NE(viaLogin->message.find("auth.example.com"), std::string::npos);
  auto viaForwardAuth = findSsoLoop({"authelia"}, fa, login);
  ASSERT_TRUE(viaForwardAuth.has_value());
  EXPECT_EQ(viaForwardAuth->urlField, "forwardAuthUrl");
  EXPECT_TRUE(findSsoLoop({"*.example.com"}, fa, login).has_value());
}

}  // namespace
}  // namespace proxyos::model
