// The session cookie (format, MAC, Set-Cookie attributes), the verifier's
// decisions over an in-memory store and a fake clock (forgery never reaches
// the store, rotation, idle and absolute expiry, touch rate, revocation), and
// the in-memory login rate limiter's fixed windows. ARCHITECTURE.md §3.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

#include "shared/core/clock.h"
#include "shared/crypto/sha256.h"
#include "shared/session/cookie_codec.h"
#include "shared/session/login_rate_limiter.h"
#include "shared/session/memory_session_store.h"
#include "shared/session/session.h"
#include "shared/session/session_verifier.h"
#include "shared/session/signing_keys.h"

namespace proxyos::session {
namespace {

using namespace std::chrono_literals;
using Check = DecodedCookie::Check;
using Outcome = Verification::Outcome;

constexpr auto kDay = std::chrono::hours(24);

struct Parts {
  std::string kid, token, mac;
};
Parts split(const std::string& cookie) {
  const auto d1 = cookie.find('.'), d2 = cookie.find('.', d1 + 1);
  return {cookie.substr(0, d1), cookie.substr(d1 + 1, d2 - d1 - 1), cookie.substr(d2 + 1)};
}
std::string join(const Parts& p) { return p.kid + "." + p.token + "." + p.mac; }
// Changes one character in the middle (never the last one, whose unused bits
// base64url decoding rejects), so the text stays valid base64url.
std::string flip(std::string s) {
  s[10] = s[10] == 'A' ? 'B' : 'A';
  return s;
}

// ---- cookie codec ----

TEST(KeyId, IsFirstEightHexCharsOfSha256) {
  EXPECT_EQ(keyId("abc"), "ba7816bf");  // SHA-256("abc") = ba7816bf8f01cfea…
  EXPECT_EQ(keyId(""), "e3b0c442");
  EXPECT_EQ(SigningKeys("abc", {}).currentKid(), "ba7816bf");
}

TEST(CookieCodec, RoundTrip) {
  const SigningKeys keys("secret-A", {});
  const std::string token = newToken();
  ASSERT_EQ(token.size(), 43u);
  const std::string cookie = encodeCookie(keys, token);
  const auto p = split(cookie);
  EXPECT_EQ(p.kid, keyId("secret-A"));
  EXPECT_EQ(p.token, token);
  EXPECT_EQ(p.mac.size(), 43u);

  const auto d = decodeCookie(keys, cookie);
  EXPECT_EQ(d.check, Check::Valid);
  EXPECT_EQ(d.token, token);
  EXPECT_EQ(d.kid, keys.currentKid());
  EXPECT_NE(newToken(), token);
}

TEST(CookieCodec, TamperedTokenOrMacIsBadMac) {
  const SigningKeys keys("secret-A", {});
  const auto p = split(encodeCookie(keys, newToken()));

  const auto badToken = decodeCookie(keys, join({p.kid, flip(p.token), p.mac}));
  EXPECT_EQ(badToken.check, Check::BadMac);
  EXPECT_TRUE(badToken.token.empty());  // an unverified token is never handed out
  EXPECT_EQ(decodeCookie(keys, join({p.kid, p.token, flip(p.mac)})).check, Check::BadMac);
}

TEST(CookieCodec, KidDecidesTheSecret) {
  const SigningKeys keys("secret-A", {"secret-old"});
  const auto p = split(encodeCookie(keys, newToken()));
  EXPECT_EQ(decodeCookie(keys, join({"0123abcd", p.token, p.mac})).check, Check::UnknownKid);
  // A known kid with the MAC of another secret is a forgery, not a rotation.
  const auto swapped = decodeCookie(keys, join({keyId("secret-old"), p.token, p.mac}));
  EXPECT_EQ(swapped.check, Check::BadMac);
  EXPECT_EQ(swapped.kid, keyId("secret-old"));
}

TEST(CookieCodec, MalformedShapesAndLengths) {
  const SigningKeys keys("secret-A", {});
  const auto p = split(encodeCookie(keys, newToken()));
  for (const std::string& bad : {
           std::string(""),
           std::string("garbage"),
           p.kid + "." + p.token,                                  // two parts
           join(p) + ".extra",                                     // four parts
           join({p.kid.substr(0, 7), p.token, p.mac}),             // kid 7 chars
           join({p.kid + "0", p.token, p.mac}),                    // kid 9 chars
           join({p.kid, p.token.substr(0, 42), p.mac}),            // token 42 chars
           join({p.kid, p.token + "A", p.mac}),                    // token 44 chars
           join({p.kid, p.token, p.mac.substr(0, 42)}),            // mac 42 chars
           join({p.kid, p.token, p.mac + "A"}),                    // mac 44 chars
           join({p.kid, "+" + p.token.substr(1), p.mac}),          // not base64url
           join({p.kid, p.token, "/" + p.mac.substr(1)}),          // not base64url
       }) {
    EXPECT_EQ(decodeCookie(keys, bad).check, Check::Malformed) << bad;
  }
}

TEST(CookieCodec, CookieFromHeader) {
  EXPECT_EQ(cookieFromHeader("proxyos_session=abc", kCookieName), "abc");
  EXPECT_EQ(cookieFromHeader("a=1; proxyos_session=abc; b=2", kCookieName), "abc");
  EXPECT_EQ(cookieFromHeader("a=1;proxyos_session=abc;b=2", kCookieName), "abc");
  EXPECT_EQ(cookieFromHeader("  a=1 ;   proxyos_session=abc   ", kCookieName), "abc");
  EXPECT_EQ(cookieFromHeader("proxyos_session=\"abc\"", kCookieName), "abc");
  EXPECT_EQ(cookieFromHeader("x_proxyos_session=1; proxyos_session_old=2; proxyos_session=3", kCookieName), "3");
  EXPECT_EQ(cookieFromHeader("proxyos_session=", kCookieName), "");
  EXPECT_EQ(cookieFromHeader("a=1; b=2", kCookieName), std::nullopt);
  EXPECT_EQ(cookieFromHeader("", kCookieName), std::nullopt);
  EXPECT_EQ(cookieFromHeader("proxyos_sessionX=1", kCookieName), std::nullopt);
}

TEST(CookieCodec, SetCookieAttributesExactly) {
  EXPECT_EQ(setCookieHeader("v", {false, "", 0s}), "proxyos_session=v; Path=/; HttpOnly; SameSite=Lax");
  EXPECT_EQ(setCookieHeader("v", {true, "", 0s}), "proxyos_session=v; Path=/; HttpOnly; SameSite=Lax; Secure");
  EXPECT_EQ(setCookieHeader("v", {true, "example.com", 3600s}),
            "proxyos_session=v; Path=/; HttpOnly; SameSite=Lax; Secure; Domain=example.com; Max-Age=3600");
  EXPECT_EQ(setCookieHeader("v", {false, "example.com", 0s}),
            "proxyos_session=v; Path=/; HttpOnly; SameSite=Lax; Domain=example.com");
}

TEST(CookieCodec, ClearCookieKeepsDomainAndZeroesMaxAge) {
  EXPECT_EQ(clearCookieHeader({false, "", 0s}), "proxyos_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
  EXPECT_EQ(clearCookieHeader({true, "example.com", 3600s}),
            "proxyos_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure; Domain=example.com");
}

// ---- session verifier ----

class SessionVerifierTest : public ::testing::Test {
 protected:
  // A session created now, stored for `ttl` (default: what the policy allows).
  std::string login(const SigningKeys& keys, std::optional<std::chrono::seconds> ttl = std::nullopt) {
    const std::string token = newToken();
    Session s;
    s.id = sessionId(token);
    s.userId = "u-1";
    s.username = "alice";
    s.role = Role::Admin;
    s.created = s.lastSeen = clock_.now();
    EXPECT_TRUE(store_.put(s, ttl.value_or(storeTtl(policy_, s, clock_.now()))).ok());
    return encodeCookie(keys, token);
  }
  Clock::WallTime storedLastSeen(const std::string& cookie) {
    auto s = store_.get(sessionId(split(cookie).token));
    EXPECT_TRUE(s.ok() && s.value().has_value());
    return s.ok() && s.value() ? s.value()->lastSeen : Clock::WallTime{};
  }

  FakeClock clock_;
  MemorySessionStore store_{clock_};
  SessionPolicy policy_;
  SigningKeys keysA_{"secret-A", {}};
};

TEST_F(SessionVerifierTest, ValidCookie) {
  const auto cookie = login(keysA_);
  SessionVerifier verifier(keysA_, store_, clock_);
  const auto v = verifier.verify(cookie);
  EXPECT_EQ(v.outcome, Outcome::Valid);
  EXPECT_EQ(v.reason(), "valid");
  EXPECT_EQ(v.session.userId, "u-1");
  EXPECT_EQ(v.session.id, sessionId(split(cookie).token));
  EXPECT_EQ(v.kid, keysA_.currentKid());
  EXPECT_FALSE(v.reissue);
}

TEST_F(SessionVerifierTest, NoCookieAndMalformed) {
  SessionVerifier verifier(keysA_, store_, clock_);
  EXPECT_EQ(verifier.verify("").reason(), "no_cookie_received");
  EXPECT_EQ(verifier.verify("a.b.c").reason(), "malformed_cookie");
  EXPECT_EQ(store_.lookups(), 0);
}

TEST_F(SessionVerifierTest, ForgedCookieNeverReachesTheStore) {
  const auto cookie = login(keysA_);
  SessionVerifier verifier(keysA_, store_, clock_);
  const int before = store_.lookups();

  auto p = split(cookie);
  const auto forgedMac = verifier.verify(join({p.kid, p.token, flip(p.mac)}));
  EXPECT_EQ(forgedMac.outcome, Outcome::BadSignature);
  EXPECT_EQ(forgedMac.reason(), "invalid_signature");
  const auto forgedToken = verifier.verify(join({p.kid, newToken(), p.mac}));
  EXPECT_EQ(forgedToken.reason(), "invalid_signature");
  EXPECT_EQ(store_.lookups(), before);

  // The counter does move for a cookie that passes the MAC check.
  EXPECT_TRUE(verifier.verify(cookie).valid());
  EXPECT_EQ(store_.lookups(), before + 1);
}

TEST_F(SessionVerifierTest, RotationKeepsSessionAndReissuesUnderCurrentSecret) {
  const auto cookieA = login(keysA_);
  const SigningKeys keysBA("secret-B", {"secret-A"});
  SessionVerifier rotated(keysBA, store_, clock_);
  const auto v = rotated.verify(cookieA);
  ASSERT_EQ(v.outcome, Outcome::Valid);
  EXPECT_TRUE(v.reissue);
  EXPECT_EQ(v.kid, keyId("secret-A"));
  EXPECT_EQ(split(v.reissuedCookie).kid, keyId("secret-B"));
  EXPECT_EQ(split(v.reissuedCookie).token, split(cookieA).token);

  const SigningKeys keysB("secret-B", {});
  SessionVerifier onlyB(keysB, store_, clock_);
  const auto again = onlyB.verify(v.reissuedCookie);
  EXPECT_EQ(again.outcome, Outcome::Valid);
  EXPECT_FALSE(again.reissue);
  EXPECT_EQ(again.session.id, v.session.id);

  const int before = store_.lookups();
  EXPECT_EQ(onlyB.verify(cookieA).reason(), "unknown_signing_secret");
  EXPECT_EQ(store_.lookups(), before);
}

TEST_F(SessionVerifierTest, IdleExpiryCountsFromLastUse) {
  const auto cookie = login(keysA_);
  SessionVerifier verifier(keysA_, store_, clock_);
  clock_.advance(7 * kDay - 1s);
  EXPECT_TRUE(verifier.verify(cookie).valid());
  clock_.advance(7 * kDay - 1s);  // 14 days old, but used 7 days minus 1 s ago
  EXPECT_TRUE(verifier.verify(cookie).valid());
  clock_.advance(7 * kDay);
  const auto v = verifier.verify(cookie);
  EXPECT_EQ(v.outcome, Outcome::Expired);
  EXPECT_EQ(v.reason(), "session_expired");
}

TEST_F(SessionVerifierTest, IdleExpiryIsEnforcedEvenIfTheStoreStillHasIt) {
  const auto cookie = login(keysA_, 365 * kDay);  // a store TTL far too long
  SessionVerifier verifier(keysA_, store_, clock_);
  clock_.advance(7 * kDay);
  EXPECT_EQ(verifier.verify(cookie).reason(), "session_expired");
}

TEST_F(SessionVerifierTest, AbsoluteExpiryAtThirtyDaysDespiteDailyUse) {
  const auto cookie = login(keysA_, 365 * kDay);
  SessionVerifier verifier(keysA_, store_, clock_);
  for (int day = 1; day < 30; ++day) {
    clock_.advance(kDay);
    ASSERT_TRUE(verifier.verify(cookie).valid()) << "day " << day;
  }
  clock_.advance(kDay - 1s);
  EXPECT_TRUE(verifier.verify(cookie).valid());
  clock_.advance(1s);
  EXPECT_EQ(verifier.verify(cookie).reason(), "session_expired");
}

TEST_F(SessionVerifierTest, LastSeenWrittenAtMostOncePerMinute) {
  const auto cookie = login(keysA_);
  const auto t0 = clock_.now();
  SessionVerifier verifier(keysA_, store_, clock_);

  clock_.advance(30s);
  ASSERT_TRUE(verifier.verify(cookie).valid());
  EXPECT_EQ(storedLastSeen(cookie), t0);
  clock_.advance(29s);
  ASSERT_TRUE(verifier.verify(cookie).valid());
  EXPECT_EQ(storedLastSeen(cookie), t0);
  clock_.advance(1s);
  ASSERT_TRUE(verifier.verify(cookie).valid());
  EXPECT_EQ(storedLastSeen(cookie), t0 + 60s);
  clock_.advance(59s);
  ASSERT_TRUE(verifier.verify(cookie).valid());
  EXPECT_EQ(storedLastSeen(cookie), t0 + 60s);
  clock_.advance(1s);
  ASSERT_TRUE(verifier.verify(cookie).valid());
  EXPECT_EQ(storedLastSeen(cookie), t0 + 120s);
}

TEST_F(SessionVerifierTest, RevokedSession) {
  const auto cookie = login(keysA_);
  SessionVerifier verifier(keysA_, store_, clock_);
  ASSERT_TRUE(verifier.verify(cookie).valid());
  ASSERT_TRUE(store_.revoke(sessionId(split(cookie).token), 30 * kDay).ok());
  const auto v = verifier.verify(cookie);
  EXPECT_EQ(v.outcome, Outcome::Revoked);
  EXPECT_EQ(v.reason(), "session_revoked");
}

TEST_F(SessionVerifierTest, NeverExistedIsExpired) {
  SessionVerifier verifier(keysA_, store_, clock_);
  const auto v = verifier.verify(encodeCookie(keysA_, newToken()));
  EXPECT_EQ(v.outcome, Outcome::Expired);
  EXPECT_EQ(v.reason(), "session_expired");
}

// ---- login rate limiter (in memory) ----

TEST(LoginRateKeys, UsernameIsLowerCasedAndHashed) {
  EXPECT_EQ(loginRateUserKey("Alice"), "proxyos:ratelimit:login:user:" + crypto::sha256Hex("alice"));
  EXPECT_EQ(loginRateUserKey("ALICE"), loginRateUserKey("alice"));
  const std::string odd = loginRateUserKey("we ird\r\n:*name/ü");
  EXPECT_EQ(odd.size(), std::string("proxyos:ratelimit:login:user:").size() + 64);
  EXPECT_EQ(loginRateIpKey("10.0.0.1"), "proxyos:ratelimit:login:ip:10.0.0.1");
}

class MemoryRateLimiterTest : public ::testing::Test {
 protected:
  RateDecision check(const std::string& user, const std::string& ip) {
    auto d = limiter_.check(user, ip);
    EXPECT_TRUE(d.ok());
    return d.ok() ? d.value() : RateDecision{false, 0s};
  }
  void fail(const std::string& user, const std::string& ip, int times = 1) {
    for (int i = 0; i < times; ++i) ASSERT_TRUE(limiter_.recordFailure(user, ip).ok());
  }

  FakeClock clock_;
  MemoryLoginRateLimiter limiter_{clock_, RateLimits{3, 5, 60s}};
};

TEST_F(MemoryRateLimiterTest, UsernameLimitRefusesUntilTheWindowEnds) {
  const auto fresh = check("alice", "10.0.0.1");
  EXPECT_TRUE(fresh.allowed);
  EXPECT_EQ(fresh.retryAfter, 0s);
  fail("alice", "10.0.0.1", 2);
  EXPECT_TRUE(check("alice", "10.0.0.1").allowed);
  fail("alice", "10.0.0.1");
  auto refused = check("alice", "10.0.0.1");
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retryAfter, 60s);
  EXPECT_FALSE(check("ALICE", "10.9.9.9").allowed);  // same budget, whatever the case or IP
  EXPECT_TRUE(check("bob", "10.0.0.2").allowed);

  clock_.advance(20s);
  EXPECT_EQ(check("alice", "10.0.0.1").retryAfter, 40s);
  clock_.advance(39500ms);
  EXPECT_EQ(check("alice", "10.0.0.1").retryAfter, 1s);  // rounded up, never 0 while refused
  clock_.advance(500ms);
  EXPECT_TRUE(check("alice", "10.0.0.1").allowed);
}

TEST_F(MemoryRateLimiterTest, WindowIsFixedFromTheFirstFailure) {
  fail("alice", "10.0.0.1");
  clock_.advance(50s);
  fail("alice", "10.0.0.1");
  clock_.advance(5s);
  fail("alice", "10.0.0.1");
  const auto d = check("alice", "10.0.0.1");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retryAfter, 5s);  // later failures did not push the end back
  clock_.advance(5s);
  EXPECT_TRUE(check("alice", "10.0.0.1").allowed);
  fail("alice", "10.0.0.1", 2);  // a new window: two failures are under the limit
  EXPECT_TRUE(check("alice", "10.0.0.1").allowed);
}

TEST_F(MemoryRateLimiterTest, IpLimitSpansUsernames) {
  for (int i = 0; i < 5; ++i) fail("user" + std::to_string(i), "10.0.0.1");
  const auto d = check("someone-new", "10.0.0.1");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retryAfter, 60s);
  EXPECT_TRUE(check("someone-new", "10.0.0.2").allowed);
  EXPECT_TRUE(check("user0", "10.0.0.2").allowed);  // one failure each: under the username limit
}

TEST_F(MemoryRateLimiterTest, RetryAfterIsTheLaterOfTwoExhaustedWindows) {
  fail("mallory", "10.0.0.1", 2);  // the IP window opens at t=0 and ends at 60 s
  clock_.advance(30s);
  fail("alice", "10.0.0.1", 3);  // the IP is at 5; alice's window opens at 30 s, ends at 90 s
  clock_.advance(10s);
  EXPECT_EQ(check("alice", "10.0.0.1").retryAfter, 50s);  // both exhausted: wait for both
  EXPECT_EQ(check("bob", "10.0.0.1").retryAfter, 20s);    // only the IP
  EXPECT_EQ(check("alice", "10.0.0.2").retryAfter, 50s);  // only the username
}

}  // namespace
}  // namespace proxyos::session
