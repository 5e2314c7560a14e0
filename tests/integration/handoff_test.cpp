// RedisHandoffStore against a real redis-server: the key and TTL a grant is
// written with, that the stored value holds no secret, that GETDEL makes a
// code single-use even when many redeem it at once, that a malformed code
// costs Redis nothing, and failing closed when Redis is down.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "shared/core/clock.h"
#include "shared/core/url.h"
#include "shared/crypto/sha256.h"
#include "shared/redis/redis_client.h"
#include "shared/session/cookie_codec.h"
#include "shared/session/handoff.h"
#include "shared/session/redis_session_store.h"
#include "shared/session/session_verifier.h"
#include "tests/support/test_servers.h"

namespace proxyos::session {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<redis::Client> clientFor(const proxyos::testing::RedisServer& server) {
  redis::ClientOptions options;
  options.endpoint = parseRedisUrl(server.url()).value();
  return std::make_unique<redis::Client>(options);
}

const std::string kNonce = "nonce-of-the-browser";
const HandoffGrant kGrant{std::string(64, 'a'), "wiki.other.org", "https://wiki.other.org/page?x=1",
                          handoffState(kNonce)};

class RedisHandoffStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    client_ = clientFor(server_);
    raw_ = clientFor(server_);  // a second connection, for looking behind the store's back
  }
  redis::Reply raw(const std::vector<std::string>& cmd) {
    auto r = raw_->command(cmd);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? r.value() : redis::Reply{};
  }
  // Calls the server has executed, all commands but INFO (which this asks with).
  long long callsExceptInfo() {
    std::istringstream lines(raw({"INFO", "commandstats"}).str);
    long long total = 0;
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
};

TEST_F(RedisHandoffStoreTest, IssueWritesOnlyTheGrantUnderTheCodesHashWithATtl) {
  RedisHandoffStore store(*client_);
  auto code = store.issue(kGrant, kHandoffTtl);
  ASSERT_TRUE(code.ok()) << code.error().message;
  EXPECT_EQ(code.value().size(), 43u);
  const std::string key = "proxyos:handoff:" + crypto::sha256Hex(code.value());
  EXPECT_EQ(RedisHandoffStore::key(code.value()), key);

  const auto pttl = raw({"PTTL", key}).integer;
  EXPECT_GT(pttl, 0);
  EXPECT_LE(pttl, 30000);

  const auto stored = nlohmann::json::parse(raw({"GET", key}).str);
  EXPECT_EQ(stored, (nlohmann::json{
                        {"sessionId", kGrant.sessionId}, {"host", kGrant.host}, {"rd", kGrant.rd}, {"state", kGrant.state}}))
      << "exactly sessionId/host/rd/state (a hash of the nonce, not the nonce): " << stored.dump();
  const auto keys = raw({"KEYS", "*"});
  ASSERT_EQ(keys.elements.size(), 1u);
  EXPECT_EQ(keys.elements[0].str, key);
  EXPECT_EQ(stored.dump().find(code.value()), std::string::npos) << "the code itself never reaches Redis";
}

TEST_F(RedisHandoffStoreTest, RedeemTakesTheGrantOutOnce) {
  RedisHandoffStore store(*client_);
  const auto code = store.issue(kGrant, kHandoffTtl).value();
  auto first = store.redeem(code);
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_TRUE(first.value().has_value());
  EXPECT_EQ(*first.value(), kGrant);
  EXPECT_EQ(raw({"EXISTS", RedisHandoffStore::key(code)}).integer, 0);
  auto second = store.redeem(code);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second.value().has_value());
}

TEST_F(RedisHandoffStoreTest, ManyRedeemingOneCodeAtOnceOnlyOneWins) {
  RedisHandoffStore issuer(*client_);
  for (int round = 0; round < 5; ++round) {
    const auto code = issuer.issue(kGrant, kHandoffTtl).value();
    std::atomic<int> won{0}, lost{0}, failed{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i)
      threads.emplace_back([&] {
        auto own = clientFor(server_);  // one connection each: the race is at the server, not in a client mutex
        RedisHandoffStore store(*own);
        while (!go) std::this_thread::yield();
        auto r = store.redeem(code);
        if (!r) ++failed;
        else if (r.value()) ++won;
        else ++lost;
      });
    go = true;
    for (auto& t : threads) t.join();
    EXPECT_EQ(won, 1) << "round " << round;
    EXPECT_EQ(lost, 7) << "round " << round;
    EXPECT_EQ(failed, 0) << "round " << round;
  }
}

TEST_F(RedisHandoffStoreTest, ExpiredCodeIsGone) {
  RedisHandoffStore store(*client_);
  const auto code = store.issue(kGrant, 1s).value();
  const auto pttl = raw({"PTTL", RedisHandoffStore::key(code)}).integer;
  EXPECT_GT(pttl, 0);
  EXPECT_LE(pttl, 1000);
  std::this_thread::sleep_for(1100ms);  // Redis's own clock decides; no FakeClock reaches it
  auto r = store.redeem(code);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value().has_value());
}

TEST_F(RedisHandoffStoreTest, MalformedCodeCostsRedisNothing) {
  RedisHandoffStore store(*client_);
  const auto before = callsExceptInfo();
  for (const std::string& bad : {std::string(), std::string("abc"), newToken() + "x", std::string(43, '/'),
                                std::string(42, 'A') + "*"}) {
    auto r = store.redeem(bad);
    ASSERT_TRUE(r.ok()) << bad;
    EXPECT_FALSE(r.value().has_value()) << bad;
  }
  EXPECT_EQ(callsExceptInfo(), before);
  ASSERT_TRUE(store.redeem(newToken()).ok());
  EXPECT_GT(callsExceptInfo(), before) << "a well-formed code does reach Redis";
}

TEST_F(RedisHandoffStoreTest, UndecodableGrantIsRefused) {
  RedisHandoffStore store(*client_);
  const auto code = newToken();
  raw({"SET", RedisHandoffStore::key(code), "not json", "EX", "30"});
  auto r = store.redeem(code);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value().has_value());
}

TEST_F(RedisHandoffStoreTest, StoppedRedisIsUnavailable) {
  RedisHandoffStore store(*client_);
  const auto code = store.issue(kGrant, kHandoffTtl).value();
  server_.stop();
  auto issued = store.issue(kGrant, kHandoffTtl);
  ASSERT_FALSE(issued.ok());
  EXPECT_EQ(issued.error().kind, ErrorKind::Unavailable);
  EXPECT_EQ(issued.error().code, "session_store_unavailable");
  auto redeemed = store.redeem(code);
  ASSERT_FALSE(redeemed.ok());
  EXPECT_EQ(redeemed.error().kind, ErrorKind::Unavailable);

  RedisSessionStore sessions(*client_);
  const SigningKeys keys("secret-A", {});
  FakeClock clock;
  EXPECT_EQ(redeemHandoff(store, sessions, keys, clock, {}, code, kGrant.host, kNonce, "", "").outcome,
            HandoffResult::Outcome::StoreUnavailable);
}

TEST_F(RedisHandoffStoreTest, EndToEndOverRedisALinkedSessionFollowsItsParent) {
  RedisHandoffStore handoffs(*client_);
  RedisSessionStore sessions(*client_);
  const SigningKeys keys("secret-A", {});
  const Clock& clock = SystemClock::instance();  // Redis expires by its own clock
  const SessionPolicy policy;
  Session parent;
  parent.id = sessionId(newToken());
  parent.userId = "u-1";
  parent.username = "alice";
  parent.role = Role::Viewer;
  parent.created = clock.now() - 24h;
  parent.lastSeen = clock.now() - (policy.idle - 1h);  // an hour of its idle limit left
  ASSERT_TRUE(sessions.put(parent, storeTtl(policy, parent, clock.now())).ok());

  const auto code = handoffs.issue({parent.id, "wiki.other.org", "https://wiki.other.org/", handoffState(kNonce)}, kHandoffTtl).value();
  const auto r = redeemHandoff(handoffs, sessions, keys, clock, policy, code, "wiki.other.org", kNonce, "10.0.0.1", "ua");
  ASSERT_EQ(r.outcome, HandoffResult::Outcome::Ok);
  const auto linkedTtl = raw({"TTL", RedisSessionStore::sessionKey(r.session.id)}).integer;
  EXPECT_GT(linkedTtl, 0);
  EXPECT_LE(linkedTtl, 3600) << "never stored past its parent's end";
  EXPECT_LE(linkedTtl, raw({"TTL", RedisSessionStore::sessionKey(parent.id)}).integer);
  EXPECT_EQ(nlohmann::json::parse(raw({"GET", RedisSessionStore::sessionKey(r.session.id)}).str)["parentId"], parent.id);

  SessionVerifier verifier(keys, sessions, clock, policy);
  EXPECT_TRUE(verifier.verify(r.cookieValue).valid());
  ASSERT_TRUE(sessions.revoke(parent.id, 3600s).ok());
  EXPECT_EQ(verifier.verify(r.cookieValue).outcome, Verification::Outcome::Revoked);
}

}  // namespace
}  // namespace proxyos::session
