// The one-time-code handoff (handoff.h, issue #6) over MemoryHandoffStore,
// MemorySessionStore and a FakeClock: what a redeem creates, that a code is
// single-use, bound to one host and short-lived, and that a linked session
// lives and dies with its parent. Also the parentId field of the session record.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "shared/core/clock.h"
#include "shared/crypto/base64url.h"
#include "shared/session/cookie_codec.h"
#include "shared/session/handoff.h"
#include "shared/session/memory_session_store.h"
#include "shared/session/session.h"
#include "shared/session/session_verifier.h"

namespace proxyos::session {
namespace {

using namespace std::chrono_literals;
using Outcome = HandoffResult::Outcome;
using VOutcome = Verification::Outcome;

constexpr auto kDay = std::chrono::hours(24);
const std::string kHost = "wiki.other.org";
const std::string kRd = "https://wiki.other.org/page?x=1";
// The edge's nonce cookie in the browser that started the handoff.
const std::string kNonce = "nonce-of-the-browser-that-asked";

/// A handoff store that cannot be reached (Redis down).
class DownHandoffStore final : public HandoffStore {
 public:
  Result<std::string> issue(const HandoffGrant&, std::chrono::seconds) override { return down(); }
  Result<std::optional<HandoffGrant>> redeem(std::string_view) override { return down(); }

 private:
  static Error down() { return Error::make(ErrorKind::Unavailable, "session_store_unavailable", "down"); }
};

/// MemorySessionStore whose get() of one id fails as if Redis were down.
class FailingGetStore final : public SessionStore {
 public:
  explicit FailingGetStore(SessionStore& inner) : inner_(inner) {}
  std::string failId;
  Status put(const Session& s, std::chrono::seconds ttl) override { return inner_.put(s, ttl); }
  Result<std::optional<Session>> get(const std::string& id) override {
    if (id == failId) return Error::make(ErrorKind::Unavailable, "session_store_unavailable", "down");
    return inner_.get(id);
  }
  Status revoke(const std::string& id, std::chrono::seconds r) override { return inner_.revoke(id, r); }
  Result<bool> wasRevoked(const std::string& id) override { return inner_.wasRevoked(id); }
  Result<std::vector<Session>> list() override { return inner_.list(); }

 private:
  SessionStore& inner_;
};

class HandoffTest : public ::testing::Test {
 protected:
  void SetUp() override { parent_ = login(); }

  // The dashboard session: what the auth service's login stores.
  Session login() {
    Session s;
    s.id = sessionId(newToken());
    s.userId = "u-1";
    s.username = "alice";
    s.email = "alice@example.com";
    s.groups = {"staff"};
    s.role = Role::Admin;
    s.created = s.lastSeen = clock_.now();
    EXPECT_TRUE(sessions_.put(s, storeTtl(policy_, s, clock_.now())).ok());
    return s;
  }
  std::string issue(const std::string& host = kHost) {
    auto code = handoffs_.issue({parent_.id, host, kRd, handoffState(kNonce)}, kHandoffTtl);
    EXPECT_TRUE(code.ok());
    return code.ok() ? code.value() : "";
  }
  HandoffResult redeem(const std::string& code, const std::string& host = kHost, const std::string& nonce = kNonce) {
    return redeemHandoff(handoffs_, sessions_, keys_, clock_, policy_, code, host, nonce, "198.51.100.7",
                         "browser/1.0");
  }

  FakeClock clock_;
  MemorySessionStore sessions_{clock_};
  MemoryHandoffStore handoffs_{clock_};
  SessionPolicy policy_;
  SigningKeys keys_{"secret-A", {}};
  SessionVerifier verifier_{keys_, sessions_, clock_, policy_};
  Session parent_;
};

TEST_F(HandoffTest, RedeemCreatesALinkedSessionWhoseCookieVerifies) {
  const auto r = redeem(issue());
  ASSERT_EQ(r.outcome, Outcome::Ok);
  EXPECT_EQ(r.rd, kRd);
  EXPECT_NE(r.session.id, parent_.id) << "a new session, not the dashboard's";
  EXPECT_EQ(r.session.parentId, parent_.id);
  EXPECT_EQ(r.session.userId, parent_.userId);
  EXPECT_EQ(r.session.username, parent_.username);
  EXPECT_EQ(r.session.email, parent_.email);
  EXPECT_EQ(r.session.groups, parent_.groups);
  EXPECT_EQ(r.session.role, parent_.role);
  EXPECT_EQ(r.session.created, clock_.now());
  EXPECT_EQ(r.session.clientIp, "198.51.100.7");
  EXPECT_EQ(r.session.userAgent, "browser/1.0");

  auto stored = sessions_.get(r.session.id);
  ASSERT_TRUE(stored.ok() && stored.value().has_value());
  EXPECT_EQ(stored.value()->parentId, parent_.id);

  const auto v = verifier_.verify(r.cookieValue);
  ASSERT_EQ(v.outcome, VOutcome::Valid) << v.reason();
  EXPECT_EQ(v.session.id, r.session.id);
  EXPECT_EQ(v.session.parentId, parent_.id);
  EXPECT_EQ(sessionId(decodeCookie(keys_, r.cookieValue).token), r.session.id);
}

TEST_F(HandoffTest, CodesAreRandomBase64UrlOf32Bytes) {
  std::set<std::string> codes;
  for (int i = 0; i < 20; ++i) {
    const auto code = issue();
    EXPECT_EQ(code.size(), 43u);
    EXPECT_EQ(crypto::base64UrlDecode(code).value_or("").size(), 32u);
    codes.insert(code);
  }
  EXPECT_EQ(codes.size(), 20u);
}

TEST_F(HandoffTest, ACodeWorksOnce) {
  const auto code = issue();
  EXPECT_EQ(redeem(code).outcome, Outcome::Ok);
  EXPECT_EQ(redeem(code).outcome, Outcome::Refused);
}

TEST_F(HandoffTest, AnotherHostIsRefusedAndUsesTheCodeUp) {
  const auto code = issue();
  EXPECT_EQ(redeem(code, "evil.example").outcome, Outcome::Refused);
  EXPECT_EQ(redeem(code, "WIKI.other.org").outcome, Outcome::Refused) << "consumed: even the right host is too late";
  EXPECT_EQ(redeem(issue(), kHost).outcome, Outcome::Ok);
}

TEST_F(HandoffTest, ACodeLivesThirtySeconds) {
  const auto early = issue();
  const auto late = issue();
  clock_.advance(kHandoffTtl - 1s);
  EXPECT_EQ(redeem(early).outcome, Outcome::Ok);
  clock_.advance(1s);
  EXPECT_EQ(redeem(late).outcome, Outcome::Refused);
}

TEST_F(HandoffTest, UnknownAndMalformedCodesAreRefused) {
  issue();
  for (const std::string& bad : {std::string(), std::string("short"), newToken() + "A", std::string(43, '+'),
                                std::string(43, '=')})
    EXPECT_EQ(redeem(bad).outcome, Outcome::Refused) << bad;
  EXPECT_EQ(redeem(newToken()).outcome, Outcome::Refused);
}

TEST_F(HandoffTest, ParentRevokedBeforeRedeemEndsTheHandoff) {
  const auto code = issue();
  ASSERT_TRUE(sessions_.revoke(parent_.id, policy_.absolute).ok());
  const auto r = redeem(code);
  EXPECT_EQ(r.outcome, Outcome::SessionEnded);
  EXPECT_TRUE(r.cookieValue.empty());
  EXPECT_EQ(sessions_.list().value().size(), 0u) << "no linked session was stored";
}

TEST_F(HandoffTest, ParentRevokedAfterRedeemRevokesTheLinkedSession) {
  const auto r = redeem(issue());
  ASSERT_EQ(r.outcome, Outcome::Ok);
  ASSERT_TRUE(sessions_.revoke(parent_.id, policy_.absolute).ok());
  const auto v = verifier_.verify(r.cookieValue);
  EXPECT_EQ(v.outcome, VOutcome::Revoked);
  EXPECT_EQ(v.reason(), "session_revoked");
}

TEST_F(HandoffTest, ParentExpiredEndsTheLinkedSessionEvenWhileItIsUsed) {
  const auto r = redeem(issue());
  ASSERT_EQ(r.outcome, Outcome::Ok);
  // The linked session is used every few days; the dashboard session is not,
  // and using the linked one must not keep the parent alive.
  clock_.advance(4 * kDay);
  ASSERT_TRUE(verifier_.verify(r.cookieValue).valid());
  EXPECT_EQ(sessions_.get(parent_.id).value()->lastSeen, parent_.lastSeen) << "the parent is never touched";
  clock_.advance(3 * kDay);
  const auto v = verifier_.verify(r.cookieValue);
  EXPECT_EQ(v.outcome, VOutcome::Expired) << v.reason();
}

TEST_F(HandoffTest, LinkedSessionIsStoredForTheParentsRemainingLife) {
  clock_.advance(5 * kDay);  // the parent, unused, has 2 days left
  const auto r = redeem(issue());
  ASSERT_EQ(r.outcome, Outcome::Ok);
  clock_.advance(2 * kDay - 1s);
  EXPECT_TRUE(sessions_.get(r.session.id).value().has_value());
  clock_.advance(1s);
  EXPECT_FALSE(sessions_.get(r.session.id).value().has_value()) << "the store forgot it with its parent";
}

TEST_F(HandoffTest, ParentExpiredBeforeRedeemEndsTheHandoff) {
  const auto code = issue();
  // Still in the store (a TTL far too long), but past the policy's idle limit.
  Session stale = parent_;
  stale.lastSeen = clock_.now() - policy_.idle;
  ASSERT_TRUE(sessions_.put(stale, 365 * kDay).ok());
  EXPECT_EQ(redeem(code).outcome, Outcome::SessionEnded);
}

TEST_F(HandoffTest, StoresDownFailClosed) {
  DownHandoffStore down;
  EXPECT_EQ(redeemHandoff(down, sessions_, keys_, clock_, policy_, newToken(), kHost, kNonce, "", "").outcome,
            Outcome::StoreUnavailable);
  FailingGetStore failing(sessions_);
  failing.failId = parent_.id;
  EXPECT_EQ(redeemHandoff(handoffs_, failing, keys_, clock_, policy_, issue(), kHost, kNonce, "", "").outcome,
            Outcome::StoreUnavailable);
}

TEST_F(HandoffTest, ParentLookupFailingIsStoreUnavailableNotExpired) {
  const auto r = redeem(issue());
  ASSERT_EQ(r.outcome, Outcome::Ok);
  FailingGetStore failing(sessions_);
  failing.failId = parent_.id;
  SessionVerifier verifier(keys_, failing, clock_, policy_);
  EXPECT_EQ(verifier.verify(r.cookieValue).outcome, VOutcome::StoreUnavailable);
}

TEST_F(HandoffTest, ALoginSessionNeedsNoParent) {
  const std::string token = newToken();
  Session s = parent_;
  s.id = sessionId(token);
  ASSERT_TRUE(sessions_.put(s, 1h).ok());
  EXPECT_TRUE(verifier_.verify(encodeCookie(keys_, token)).valid());
}

// ---- the session record ----

TEST(SessionRecord, ParentIdIsWrittenOnlyForLinkedSessions) {
  Session s;
  s.id = "abc";
  s.userId = "u";
  s.username = "alice";
  EXPECT_FALSE(nlohmann::json::parse(encodeSession(s)).contains("parentId"));
  EXPECT_EQ(decodeSession(encodeSession(s)).value().parentId, "");

  s.parentId = "def";
  EXPECT_EQ(nlohmann::json::parse(encodeSession(s))["parentId"], "def");
  EXPECT_EQ(decodeSession(encodeSession(s)).value().parentId, "def");
}

TEST(SessionRecord, RecordsFromBeforeLinkedSessionsStillDecode) {
  const auto s = decodeSession(
      R"({"id":"abc","userId":"u","username":"alice","role":"admin","createdMs":1,"lastSeenMs":2})");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s.value().parentId, "");
}

}  // namespace
}  // namespace proxyos::session

namespace proxyos::session {
namespace {

// Login CSRF: a code someone else obtained (with their own session) cannot
// be finished in another browser, which lacks the nonce it was issued for.
TEST_F(HandoffTest, OnlyTheBrowserThatStartedItMayFinishIt) {
  const auto code = issue();
  EXPECT_EQ(redeem(code, kHost, "another-browser").outcome, Outcome::Refused);
  EXPECT_EQ(redeem(code).outcome, Outcome::Refused) << "consumed by the failed attempt";
  EXPECT_EQ(redeem(issue(), kHost, "").outcome, Outcome::Refused) << "no nonce cookie";
  auto stateless = handoffs_.issue({parent_.id, kHost, kRd, ""}, kHandoffTtl).value();
  EXPECT_EQ(redeem(stateless, kHost, "").outcome, Outcome::Refused) << "a grant without state never redeems";
  EXPECT_EQ(redeem(issue()).outcome, Outcome::Ok);
}

TEST(HandoffStateTest, IsTheHexSha256OfTheNonce) {
  EXPECT_EQ(handoffState("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(isHandoffState(handoffState("x")));
  EXPECT_FALSE(isHandoffState(std::string(63, 'a')));
  EXPECT_FALSE(isHandoffState(std::string(64, 'A')));
  EXPECT_FALSE(isHandoffState(std::string(64, 'g')));
  EXPECT_FALSE(isHandoffState(""));
}

}  // namespace
}  // namespace proxyos::session
