// RedisSessionStore and RedisLoginRateLimiter against a real redis-server:
// the keys and TTLs they write, expiry seen by list(), failing closed when
// Redis is down, and that a forged cookie costs Redis nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "shared/core/clock.h"
#include "shared/core/url.h"
#include "shared/redis/redis_client.h"
#include "shared/session/cookie_codec.h"
#include "shared/session/login_rate_limiter.h"
#include "shared/session/redis_session_store.h"
#include "shared/session/session_verifier.h"
#include "tests/support/test_servers.h"
#include "tests/support/wait.h"

namespace proxyos::session {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

std::unique_ptr<redis::Client> clientFor(const proxyos::testing::RedisServer& server) {
  auto endpoint = parseRedisUrl(server.url());
  EXPECT_TRUE(endpoint.ok());
  redis::ClientOptions options;
  options.endpoint = endpoint.value();
  return std::make_unique<redis::Client>(options);
}

Session makeSession(const std::string& token, const std::string& username, Clock::WallTime now) {
  Session s;
  s.id = sessionId(token);
  s.userId = "id-" + username;
  s.username = username;
  s.email = username + "@example.com";
  s.groups = {"staff", "ops"};
  s.role = Role::Viewer;
  s.created = s.lastSeen = now;
  s.clientIp = "10.0.0.1";
  s.userAgent = "test/1.0";
  return s;
}

std::vector<std::string> idsOf(const std::vector<Session>& sessions) {
  std::vector<std::string> ids;
  for (const auto& s : sessions) ids.push_back(s.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

class RedisSessionStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    client_ = clientFor(server_);
    raw_ = clientFor(server_);  // a second connection, for looking behind the store's back
  }

  long long integer(const std::vector<std::string>& cmd) {
    auto r = raw_->command(cmd);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? r.value().integer : -100;
  }
  // Calls the server has executed, all commands but INFO (which this asks with).
  long long callsExceptInfo() {
    auto r = raw_->command({"INFO", "commandstats"});
    EXPECT_TRUE(r.ok());
    long long total = 0;
    std::istringstream lines(r.ok() ? r.value().str : "");
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("cmdstat_", 0) != 0 || line.rfind("cmdstat_info:", 0) == 0) continue;
      const auto at = line.find("calls=");
      if (at != std::string::npos) total += std::stoll(line.substr(at + 6));
    }
    return total;
  }

  proxyos::testing::RedisServer server_;
  std::unique_ptr<redis::Client> client_;
  std::unique_ptr<redis::Client> raw_;
  FakeClock clock_;
};

TEST_F(RedisSessionStoreTest, PutGetListRevoke) {
  RedisSessionStore store(*client_);
  const auto a = makeSession(newToken(), "alice", clock_.now());
  const auto b = makeSession(newToken(), "bob", clock_.now());
  ASSERT_TRUE(store.put(a, 3600s).ok());
  ASSERT_TRUE(store.put(b, 3600s).ok());

  auto got = store.get(a.id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_TRUE(got.value().has_value());
  EXPECT_EQ(encodeSession(*got.value()), encodeSession(a));
  auto raw = raw_->command({"GET", "proxyos:session:" + a.id});
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw.value().str, encodeSession(a));
  EXPECT_EQ(integer({"SISMEMBER", "proxyos:sessions", a.id}), 1);

  auto listed = store.list();
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  std::vector<std::string> both{a.id, b.id};
  std::sort(both.begin(), both.end());
  EXPECT_EQ(idsOf(listed.value()), both);

  auto revokedBefore = store.wasRevoked(a.id);
  ASSERT_TRUE(revokedBefore.ok());
  EXPECT_FALSE(revokedBefore.value());
  ASSERT_TRUE(store.revoke(a.id, 600s).ok());

  auto gone = store.get(a.id);
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone.value().has_value());
  auto revoked = store.wasRevoked(a.id);
  ASSERT_TRUE(revoked.ok());
  EXPECT_TRUE(revoked.value());
  EXPECT_EQ(integer({"SISMEMBER", "proxyos:sessions", a.id}), 0);
  const auto tombstoneTtl = integer({"TTL", "proxyos:session-revoked:" + a.id});
  EXPECT_GT(tombstoneTtl, 590);
  EXPECT_LE(tombstoneTtl, 600);
  auto after = store.list();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(idsOf(after.value()), std::vector<std::string>{b.id});
}

TEST_F(RedisSessionStoreTest, PutAfterRevokeDoesNotResurrect) {
  RedisSessionStore store(*client_);
  auto a = makeSession(newToken(), "alice", clock_.now());
  ASSERT_TRUE(store.put(a, 3600s).ok());
  ASSERT_TRUE(store.revoke(a.id, 600s).ok());

  a.lastSeen += 60s;  // a last-seen touch that lost the race against the revoke
  auto put = store.put(a, 3600s);
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.error().kind, ErrorKind::Conflict);
  EXPECT_EQ(put.error().code, "session_revoked");
  EXPECT_EQ(integer({"EXISTS", "proxyos:session:" + a.id}), 0);
  EXPECT_EQ(integer({"SISMEMBER", "proxyos:sessions", a.id}), 0);
}

TEST_F(RedisSessionStoreTest, PutSetsTheTtlAndATouchReplacesIt) {
  RedisSessionStore store(*client_);
  const auto a = makeSession(newToken(), "alice", clock_.now());
  ASSERT_TRUE(store.put(a, 3600s).ok());
  const auto ttl = integer({"TTL", "proxyos:session:" + a.id});
  EXPECT_GE(ttl, 3590);
  EXPECT_LE(ttl, 3600);

  ASSERT_TRUE(store.put(a, 120s).ok());
  const auto shorter = integer({"TTL", "proxyos:session:" + a.id});
  EXPECT_GT(shorter, 0);
  EXPECT_LE(shorter, 120);
}

TEST_F(RedisSessionStoreTest, ExpiredSessionLeavesListAndIndex) {
  RedisSessionStore store(*client_);
  const auto shortLived = makeSession(newToken(), "alice", clock_.now());
  const auto longLived = makeSession(newToken(), "bob", clock_.now());
  ASSERT_TRUE(store.put(shortLived, 1s).ok());
  ASSERT_TRUE(store.put(longLived, 3600s).ok());
  EXPECT_EQ(integer({"SCARD", "proxyos:sessions"}), 2);

  const bool expired = proxyos::testing::waitUntil(
      [&] {
        auto l = store.list();
        return l.ok() && idsOf(l.value()) == std::vector<std::string>{longLived.id};
      },
      5000ms, 50ms);
  ASSERT_TRUE(expired);
  EXPECT_EQ(integer({"SISMEMBER", "proxyos:sessions", shortLived.id}), 0);  // pruned, not just hidden
  EXPECT_EQ(integer({"SISMEMBER", "proxyos:sessions", longLived.id}), 1);
  auto got = store.get(shortLived.id);
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got.value().has_value());
}

TEST_F(RedisSessionStoreTest, CorruptValueFailsClosed) {
  RedisSessionStore store(*client_);
  const SigningKeys keys("secret-A", {});
  const std::string token = newToken();
  const std::string id = sessionId(token);
  ASSERT_TRUE(raw_->command({"SET", "proxyos:session:" + id, "not json"}).ok());
  ASSERT_TRUE(raw_->command({"SADD", "proxyos:sessions", id}).ok());

  auto got = store.get(id);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, "corrupt_session");
  SessionVerifier verifier(keys, store, clock_);
  EXPECT_EQ(verifier.verify(encodeCookie(keys, token)).outcome, Verification::Outcome::StoreUnavailable);
  auto listed = store.list();
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed.value().empty());

  // A value of the wrong Redis type is an error reply: Unavailable, not "absent".
  ASSERT_TRUE(raw_->command({"DEL", "proxyos:session:" + id}).ok());
  ASSERT_TRUE(raw_->command({"LPUSH", "proxyos:session:" + id, "x"}).ok());
  auto wrongType = store.get(id);
  ASSERT_FALSE(wrongType.ok());
  EXPECT_EQ(wrongType.error().kind, ErrorKind::Unavailable);
}

TEST_F(RedisSessionStoreTest, StoppedRedisIsUnavailableAndVerifierFailsClosed) {
  RedisSessionStore store(*client_);
  const SigningKeys keys("secret-A", {});
  const std::string token = newToken();
  const auto a = makeSession(token, "alice", clock_.now());
  ASSERT_TRUE(store.put(a, 3600s).ok());
  SessionVerifier verifier(keys, store, clock_);
  ASSERT_TRUE(verifier.verify(encodeCookie(keys, token)).valid());

  server_.stop();
  auto expectUnavailable = [](const Error& e) {
    EXPECT_EQ(e.kind, ErrorKind::Unavailable);
    EXPECT_EQ(e.code, "session_store_unavailable");
  };
  auto get = store.get(a.id);
  ASSERT_FALSE(get.ok());
  expectUnavailable(get.error());
  auto put = store.put(a, 60s);
  ASSERT_FALSE(put.ok());
  expectUnavailable(put.error());
  auto revoke = store.revoke(a.id, 60s);
  ASSERT_FALSE(revoke.ok());
  expectUnavailable(revoke.error());
  auto wasRevoked = store.wasRevoked(a.id);
  ASSERT_FALSE(wasRevoked.ok());
  expectUnavailable(wasRevoked.error());
  auto list = store.list();
  ASSERT_FALSE(list.ok());
  expectUnavailable(list.error());

  const auto v = verifier.verify(encodeCookie(keys, token));
  EXPECT_EQ(v.outcome, Verification::Outcome::StoreUnavailable);
  EXPECT_EQ(v.reason(), "session_store_unavailable");
  EXPECT_FALSE(v.valid());
}

TEST_F(RedisSessionStoreTest, ForgedCookieSendsNoRedisCommand) {
  RedisSessionStore store(*client_);
  const SigningKeys keys("secret-A", {});
  const std::string token = newToken();
  ASSERT_TRUE(store.put(makeSession(token, "alice", clock_.now()), 3600s).ok());
  SessionVerifier verifier(keys, store, clock_);
  const std::string cookie = encodeCookie(keys, token);
  const auto d1 = cookie.find('.'), d2 = cookie.rfind('.');
  std::string badMac = cookie;
  badMac[d2 + 5] = badMac[d2 + 5] == 'A' ? 'B' : 'A';
  std::string otherToken = cookie.substr(0, d1 + 1) + newToken() + cookie.substr(d2);

  const uint64_t sentBefore = client_->commandsSent();
  const long long callsBefore = callsExceptInfo();
  EXPECT_EQ(verifier.verify(badMac).reason(), "invalid_signature");
  EXPECT_EQ(verifier.verify(otherToken).reason(), "invalid_signature");
  EXPECT_EQ(verifier.verify("0123abcd" + cookie.substr(d1)).reason(), "unknown_signing_secret");
  EXPECT_EQ(verifier.verify("garbage").reason(), "malformed_cookie");
  EXPECT_EQ(client_->commandsSent(), sentBefore);
  EXPECT_EQ(callsExceptInfo(), callsBefore);

  // Both counters do move when a cookie passes the MAC check.
  ASSERT_TRUE(verifier.verify(cookie).valid());
  EXPECT_GT(client_->commandsSent(), sentBefore);
  EXPECT_GT(callsExceptInfo(), callsBefore);
}

// ---- RedisLoginRateLimiter ----

TEST_F(RedisSessionStoreTest, UsernameLimitRefusesAfterTenUntilTheWindowEnds) {
  RedisLoginRateLimiter limiter(*client_, RateLimits{10, 100, 2s});
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(limiter.recordFailure("Alice", "10.0.0.1").ok());
    auto d = limiter.check("alice", "10.0.0.1");
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(d.value().allowed, i < 10) << "after failure " << i;
    if (!d.value().allowed) {
      EXPECT_GE(d.value().retryAfter, 1s);
      EXPECT_LE(d.value().retryAfter, 2s);
    }
  }
  auto count = raw_->command({"GET", loginRateUserKey("alice")});
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count.value().str, "20");
  auto keys = raw_->command({"KEYS", "proxyos:ratelimit:*"});
  ASSERT_TRUE(keys.ok());
  for (const auto& k : keys.value().elements) EXPECT_THAT(k.str, Not(HasSubstr("lice")));

  auto other = limiter.check("bob", "10.0.0.2");
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other.value().allowed);
  EXPECT_EQ(other.value().retryAfter, 0s);

  const bool reopened = proxyos::testing::waitUntil(
      [&] {
        auto d = limiter.check("alice", "10.0.0.1");
        return d.ok() && d.value().allowed;
      },
      5000ms, 50ms);
  EXPECT_TRUE(reopened);
}

TEST_F(RedisSessionStoreTest, IpLimitSpansUsernames) {
  RedisLoginRateLimiter limiter(*client_, RateLimits{10, 5, 60s});
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(limiter.recordFailure("user" + std::to_string(i), "10.0.0.7").ok());
  auto refused = limiter.check("someone-new", "10.0.0.7");
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused.value().allowed);
  EXPECT_GT(refused.value().retryAfter, 50s);
  EXPECT_LE(refused.value().retryAfter, 60s);
  const auto ttl = integer({"TTL", loginRateIpKey("10.0.0.7")});
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 60);

  auto elsewhere = limiter.check("someone-new", "10.0.0.8");
  ASSERT_TRUE(elsewhere.ok());
  EXPECT_TRUE(elsewhere.value().allowed);
}

TEST_F(RedisSessionStoreTest, CounterWithoutExpiryIsGivenAWindow) {
  RedisLoginRateLimiter limiter(*client_, RateLimits{10, 100, 60s});
  ASSERT_TRUE(raw_->command({"SET", loginRateUserKey("alice"), "12"}).ok());  // its EXPIRE was lost
  auto d = limiter.check("alice", "10.0.0.1");
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d.value().allowed);
  EXPECT_EQ(d.value().retryAfter, 60s);
  const auto ttl = integer({"TTL", loginRateUserKey("alice")});
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 60);
}

TEST_F(RedisSessionStoreTest, RateLimiterIsUnavailableWhenRedisIsDown) {
  RedisLoginRateLimiter limiter(*client_, RateLimits{});
  server_.stop();
  auto d = limiter.check("alice", "10.0.0.1");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().kind, ErrorKind::Unavailable);
  EXPECT_EQ(d.error().code, "rate_limiter_unavailable");
  auto f = limiter.recordFailure("alice", "10.0.0.1");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().kind, ErrorKind::Unavailable);
}

}  // namespace
}  // namespace proxyos::session
