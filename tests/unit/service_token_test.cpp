#include <gtest/gtest.h>

#include "shared/session/service_token.h"

namespace proxyos::session {
namespace {

const std::string kA(32, 'a'), kB(32, 'b');

class DenyAll final : public TokenVerifier {
 public:
  Result<std::optional<Principal>> verify(const std::string&) override {
    ++calls;
    return std::optional<Principal>{};
  }
  int calls = 0;
};

TEST(ServiceToken, VerifiesAsViewerUntilExpiry) {
  FakeClock clock;
  SigningKeys keys(kA, {});
  const auto token = issueServiceToken(keys, "route-registry", clock.now());
  auto p = verifyServiceToken(keys, token, clock.now());
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->username, "service:route-registry");
  EXPECT_EQ(p->role, Role::Viewer);
  clock.advance(std::chrono::seconds(61));
  EXPECT_FALSE(verifyServiceToken(keys, token, clock.now()).has_value());
}

TEST(ServiceToken, RefusesOtherSecretsTamperingAndGarbage) {
  FakeClock clock;
  const auto token = issueServiceToken(SigningKeys(kA, {}), "sso-provider", clock.now());
  EXPECT_FALSE(verifyServiceToken(SigningKeys(kB, {}), token, clock.now()).has_value());
  EXPECT_TRUE(verifyServiceToken(SigningKeys(kB, {kA}), token, clock.now()).has_value()) << "rotation";
  std::string renamed = token;
  renamed.replace(renamed.find("sso-provider"), 3, "xyz");
  EXPECT_FALSE(verifyServiceToken(SigningKeys(kA, {}), renamed, clock.now()).has_value());
  const auto dot = token.find('.');
  std::string longer = token;
  longer.insert(dot + 1, "9");  // a later expiry under the same MAC
  EXPECT_FALSE(verifyServiceToken(SigningKeys(kA, {}), longer, clock.now()).has_value());
  for (const std::string bad : {"", "pxsvc_", "pxsvc_a.b", "pxsvc_a.1.x", "pxat_a.b"})
    EXPECT_FALSE(verifyServiceToken(SigningKeys(kA, {}), bad, clock.now()).has_value()) << bad;
}

TEST(ServiceToken, VerifierHandsOtherTokensOn) {
  FakeClock clock;
  SigningKeys keys(kA, {});
  DenyAll next;
  ServiceAwareTokenVerifier v(keys, clock, next);
  EXPECT_TRUE(v.verify(issueServiceToken(keys, "x", clock.now())).value().has_value());
  EXPECT_EQ(next.calls, 0);
  EXPECT_FALSE(v.verify("pxat_abc.def").value().has_value());
  EXPECT_EQ(next.calls, 1);
}

}  // namespace
}  // namespace proxyos::session
