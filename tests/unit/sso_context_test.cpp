// The SSO step's shared state (services/edge-proxy/sso_context.h): verdict
// expiry and revocation (including the race of a lookup that began before a
// revocation), the allow cache's keys, and which hosts the dashboard cookie
// reaches. A fake clock moves time; nothing here talks to Redis.
#include "services/edge-proxy/sso_context.h"

#include <gtest/gtest.h>

namespace proxyos::edge {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<const SessionVerdict> valid(const std::string& id, const std::string& parent = "") {
  SessionVerdict v;
  v.kind = SessionVerdict::Kind::Valid;
  v.sessionId = id;
  v.parentId = parent;
  v.username = "alice";
  return std::make_shared<const SessionVerdict>(v);
}

class FailingAuthority final : public SessionAuthority {
 public:
  SessionVerdict verify(std::string_view) override { return {}; }
  session::HandoffResult redeem(std::string_view, std::string_view, std::string_view, std::string_view,
                                std::string_view) override {
    return {};
  }
};

TEST(SessionVerdictsTest, AVerdictLivesItsTtlThenIsAskedAgain) {
  FakeClock clock;
  SessionVerdicts verdicts(clock, 2000ms, 100);
  verdicts.store("cookie-a", valid("s1"), verdicts.generation());
  ASSERT_NE(verdicts.find("cookie-a"), nullptr);
  EXPECT_EQ(verdicts.find("cookie-b"), nullptr);
  clock.advance(1999ms);
  EXPECT_NE(verdicts.find("cookie-a"), nullptr);
  clock.advance(1ms);
  EXPECT_EQ(verdicts.find("cookie-a"), nullptr) << "2 s at most";
}

// While Redis cannot be asked (a Sentinel failover), a session seen valid in
// the last half minute goes on; nothing else does.
TEST(SessionVerdictsTest, TheLastValidVerdictOutlivesItsTtlByTheGraceOnly) {
  FakeClock clock;
  SessionVerdicts verdicts(clock, 2000ms, 100, 30000ms);
  verdicts.store("cookie-a", valid("s1"), verdicts.generation());
  SessionVerdict invalid;  // e.g. expired: never served from the grace
  verdicts.store("cookie-b", std::make_shared<const SessionVerdict>(invalid), verdicts.generation());
  clock.advance(2000ms);
  EXPECT_EQ(verdicts.find("cookie-a"), nullptr) << "past its ttl the store is asked again";
  ASSERT_NE(verdicts.lastValid("cookie-a"), nullptr);
  EXPECT_EQ(verdicts.lastValid("cookie-a")->sessionId, "s1");
  EXPECT_EQ(verdicts.lastValid("cookie-b"), nullptr);
  EXPECT_EQ(verdicts.lastValid("never-seen"), nullptr);
  clock.advance(29999ms);
  EXPECT_NE(verdicts.lastValid("cookie-a"), nullptr);
  clock.advance(1ms);
  EXPECT_EQ(verdicts.lastValid("cookie-a"), nullptr) << "ttl + grace at most";

  // A revocation ends the grace at once.
  verdicts.store("cookie-c", valid("s3"), verdicts.generation());
  clock.advance(5000ms);
  verdicts.revoke("s3");
  EXPECT_EQ(verdicts.lastValid("cookie-c"), nullptr);
}

TEST(SessionVerdictsTest, RevocationDropsTheSessionAndItsLinkedSessionsOnly) {
  FakeClock clock;
  SessionVerdicts verdicts(clock, 2000ms, 100);
  verdicts.store("dashboard", valid("parent"), verdicts.generation());
  verdicts.store("other-domain", valid("linked", "parent"), verdicts.generation());
  verdicts.store("someone-else", valid("s2"), verdicts.generation());
  verdicts.revoke("parent");
  EXPECT_EQ(verdicts.find("dashboard"), nullptr);
  EXPECT_EQ(verdicts.find("other-domain"), nullptr);
  EXPECT_NE(verdicts.find("someone-else"), nullptr);
}

TEST(SessionVerdictsTest, ALookupThatBeganBeforeARevocationIsNotCached) {
  FakeClock clock;
  SessionVerdicts verdicts(clock, 2000ms, 100);
  const auto before = verdicts.generation();  // the lookup starts, reads Redis...
  verdicts.revoke("s1");                      // ...the logout lands meanwhile
  verdicts.store("cookie", valid("s1"), before);
  EXPECT_EQ(verdicts.find("cookie"), nullptr) << "a verdict read before the revocation must not be served after it";
  verdicts.store("cookie", valid("s1"), verdicts.generation());
  EXPECT_NE(verdicts.find("cookie"), nullptr);
}

TEST(SessionVerdictsTest, UnavailableIsNeverCachedAndAFullCacheStartsOver) {
  FakeClock clock;
  SessionVerdicts verdicts(clock, 2000ms, 2);
  SessionVerdict down;
  down.kind = SessionVerdict::Kind::Unavailable;
  verdicts.store("c", std::make_shared<const SessionVerdict>(down), verdicts.generation());
  EXPECT_EQ(verdicts.find("c"), nullptr) << "Redis down must be asked again, not remembered";
  verdicts.store("a", valid("1"), verdicts.generation());
  verdicts.store("b", valid("2"), verdicts.generation());
  verdicts.store("c", valid("3"), verdicts.generation());
  EXPECT_LE(verdicts.size(), 2u);
  EXPECT_NE(verdicts.find("c"), nullptr);
}

TEST(AllowCacheTest, KeysSeparateProvidersAndCredentialsWithoutHoldingThem) {
  const auto k = AllowCache::key("p1", "session=abc", "Bearer t");
  EXPECT_EQ(k.find("abc"), std::string::npos) << "no credential in the key";
  EXPECT_NE(k, AllowCache::key("p2", "session=abc", "Bearer t"));
  EXPECT_NE(k, AllowCache::key("p1", "session=abd", "Bearer t"));
  EXPECT_NE(k, AllowCache::key("p1", "session=abc", ""));
  // The separator keeps "ab"+"c" apart from "a"+"bc".
  EXPECT_NE(AllowCache::key("p", "ab", "c"), AllowCache::key("p", "a", "bc"));
  EXPECT_EQ(k, AllowCache::key("p1", "session=abc", "Bearer t"));
}

TEST(AllowCacheTest, EntriesExpireAfterTheProvidersTtl) {
  FakeClock clock;
  AllowCache cache(clock, 10);
  cache.store("k", std::make_shared<const CachedAllow>(CachedAllow{{{"Remote-User", "alice"}}, "admins"}), 5s);
  ASSERT_NE(cache.find("k"), nullptr);
  EXPECT_EQ(cache.find("k")->identity.at(0).second, "alice");
  clock.advance(5s);
  EXPECT_EQ(cache.find("k"), nullptr);
}

TEST(SsoContextTest, TheDashboardCookieReachesItsHostAndTheCookieDomainOnly) {
  FakeClock clock;
  FailingAuthority authority;
  SsoContext sso(authority, clock, {"https://dash.example.com", "dash.example.com", "example.com"}, 1);
  EXPECT_TRUE(sso.cookieReaches("dash.example.com"));
  EXPECT_TRUE(sso.cookieReaches("example.com"));
  EXPECT_TRUE(sso.cookieReaches("grafana.example.com"));
  EXPECT_TRUE(sso.cookieReaches("a.b.example.com"));
  EXPECT_FALSE(sso.cookieReaches("badexample.com"));
  EXPECT_FALSE(sso.cookieReaches("example.com.evil.test"));
  EXPECT_FALSE(sso.cookieReaches("b.example"));

  SsoContext hostOnly(authority, clock, {"http://dash.test", "dash.test", ""}, 1);
  EXPECT_TRUE(hostOnly.cookieReaches("dash.test"));
  EXPECT_FALSE(hostOnly.cookieReaches("app.dash.test")) << "no cookie domain: host-only cookie";
}

}  // namespace
}  // namespace proxyos::edge
