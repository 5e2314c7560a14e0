// The Redis client in Sentinel mode against real processes on loopback: a
// primary, a replica (--replicaof) and a Sentinel (redis-server --sentinel),
// each on free ports in its own temp directory. Nothing is mocked: failovers
// are real SIGKILLs and real Sentinel decisions, waited for by polling.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "shared/core/url.h"
#include "shared/redis/redis_client.h"
#include "shared/redis/sentinel.h"
#include "shared/session/redis_session_store.h"
#include "tests/support/loopback.h"  // freePort
#include "tests/support/redis_sentinel.h"
#include "tests/support/test_servers.h"
#include "tests/support/wait.h"

namespace proxyos::redis {
namespace {

using namespace std::chrono_literals;
using proxyos::testing::directRedis;
using proxyos::testing::RedisNode;
using proxyos::testing::redisReplicasAt;
using proxyos::testing::redisRoleAt;
using proxyos::testing::SentinelNode;
using proxyos::testing::sentinelKnowsAReplica;
using proxyos::testing::sentinelNames;
using proxyos::testing::waitUntil;
using ::testing::HasSubstr;
using Stopwatch = std::chrono::steady_clock;

constexpr const char* kMaster = proxyos::testing::kSentinelMaster;

std::chrono::milliseconds since(Stopwatch::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Stopwatch::now() - start);
}

ClientOptions viaSentinels(const std::vector<uint16_t>& sentinelPorts, const std::string& master = kMaster) {
  ClientOptions o;
  for (uint16_t p : sentinelPorts) o.endpoint.sentinels.push_back(HostPort{"127.0.0.1", p});
  o.endpoint.sentinelMaster = master;
  o.connectTimeout = 500ms;
  o.ioTimeout = 1000ms;
  o.sentinelTimeout = 300ms;
  return o;
}

/// A primary, its replica and one Sentinel, ready for a failover: the replica
/// is in sync and the Sentinel knows it.
class SentinelClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    primary_.start();
    replica_ = std::make_unique<RedisNode>(primary_.port());
    replica_->start();
    // In sync before the Sentinel starts: its first INFO of the primary then
    // lists the replica (the next one would come 10 s later).
    ASSERT_TRUE(waitUntil([&] { return redisReplicasAt(primary_.port()) == 1; }, 10s)) << "replica never synced";
    sentinel_ = std::make_unique<SentinelNode>(primary_.port());
    sentinel_->start();
    ASSERT_TRUE(waitUntil([&] { return sentinelKnowsAReplica(sentinel_->port()); }, 15s))
        << "Sentinel never saw the replica:\n" << sentinel_->logTail();
    ASSERT_EQ(sentinelNames(sentinel_->port()), primary_.address());
  }

  // SIGKILL the primary, then wait until the Sentinel names the replica.
  // Returns how long that took.
  std::chrono::milliseconds killPrimaryAndWaitForFailover() {
    const auto start = Stopwatch::now();
    primary_.kill();
    EXPECT_TRUE(waitUntil([&] { return sentinelNames(sentinel_->port()) == replica_->address(); }, 20s))
        << sentinel_->logTail();
    return since(start);
  }

  RedisNode primary_;
  std::unique_ptr<RedisNode> replica_;
  std::unique_ptr<SentinelNode> sentinel_;
};

TEST_F(SentinelClusterTest, ResolvesThePrimaryAskingSentinelsInOrder) {
  // The first Sentinel is down: the client goes on to the next.
  const uint16_t deadSentinel = proxyos::testing::freePort();
  Client client(viaSentinels({deadSentinel, sentinel_->port()}));
  EXPECT_EQ(client.primary(), "");

  auto set = client.command({"SET", "k", "v"});
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(client.primary(), primary_.address());
  EXPECT_TRUE(client.sentinelMode());

  // It went to the primary: readable there, and replicated.
  Client onPrimary(directRedis(primary_.port()));
  EXPECT_EQ(onPrimary.command({"GET", "k"}).value().str, "v");
  Client onReplica(directRedis(replica_->port()));
  EXPECT_TRUE(waitUntil(
      [&] {
        auto r = onReplica.command({"GET", "k"});
        return r.ok() && r.value().str == "v";
      },
      5s));
}

TEST_F(SentinelClusterTest, UnknownMasterNameIsUnavailableAndNamesTheCause) {
  Client client(viaSentinels({sentinel_->port()}, "not-monitored"));
  auto r = client.command({"PING"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Unavailable);
  EXPECT_EQ(r.error().code, "redis_unavailable");
  EXPECT_THAT(r.error().message, HasSubstr("does not monitor a master named 'not-monitored'"));
  EXPECT_EQ(client.commandsSent(), 0u);
}

TEST_F(SentinelClusterTest, WritesResumeOnThePromotedReplicaAndConfirmedWritesSurvive) {
  Client client(viaSentinels({sentinel_->port()}));
  auto confirmed = client.pipelineConfirmed({{"SET", "before", "confirmed"}, {"SADD", "set", "a", "b"}});
  ASSERT_TRUE(confirmed.ok()) << confirmed.error().message;
  EXPECT_EQ(confirmed.value().confirmation.outcome, WriteConfirmation::Outcome::Confirmed);
  EXPECT_EQ(confirmed.value().confirmation.replicas, 1);
  EXPECT_EQ(confirmed.value().confirmation.acked, 1);
  EXPECT_EQ(confirmed.value().confirmation.primary, primary_.address());
  EXPECT_EQ(client.unconfirmedWrites(), 0u);

  const auto killed = Stopwatch::now();
  primary_.kill();
  std::string lastError;
  const bool resumed = waitUntil(
      [&] {
        auto r = client.command({"SET", "after", "failover"});
        if (!r) lastError = r.error().message;
        return r.ok();
      },
      20s, 50ms);
  const auto resumedAfter = since(killed);
  ASSERT_TRUE(resumed) << "last error: " << lastError << "\n" << sentinel_->logTail();
  std::cout << "[ failover ] writes resumed " << resumedAfter.count() << " ms after SIGKILL of the primary\n";
  RecordProperty("writes_resumed_ms", static_cast<int>(resumedAfter.count()));
  EXPECT_LT(resumedAfter, 10s);

  EXPECT_EQ(client.primary(), replica_->address());
  EXPECT_EQ(client.primaryChanges(), 1u);
  EXPECT_EQ(redisRoleAt(replica_->port()), "master");
  // What WAIT confirmed before the kill is on the new primary.
  EXPECT_EQ(client.command({"GET", "before"}).value().str, "confirmed");
  EXPECT_EQ(client.command({"SCARD", "set"}).value().integer, 2);

  // The promoted replica has no replica of its own: a confirmed write still
  // succeeds at once, but is counted as unconfirmed (a failover now loses it).
  const auto start = Stopwatch::now();
  auto lonely = client.pipelineConfirmed({{"SET", "lonely", "1"}});
  ASSERT_TRUE(lonely.ok()) << lonely.error().message;
  EXPECT_LT(since(start), 500ms);
  EXPECT_EQ(lonely.value().confirmation.outcome, WriteConfirmation::Outcome::NoReplica);
  EXPECT_EQ(client.unconfirmedWrites(), 1u);
}

TEST_F(SentinelClusterTest, RestartedOldPrimaryIsNotUsedByAClientThatReResolves) {
  Client client(viaSentinels({sentinel_->port()}));
  ASSERT_TRUE(client.pipelineConfirmed({{"SET", "before", "kept"}}).ok());
  const auto failover = killPrimaryAndWaitForFailover();
  std::cout << "[ failover ] Sentinel named the replica " << failover.count() << " ms after the kill\n";
  RecordProperty("sentinel_switch_ms", static_cast<int>(failover.count()));

  // The old primary comes back empty and, until Sentinel reconfigures it, as
  // a writable master: exactly what a client must not pick.
  const auto restarted = Stopwatch::now();
  primary_.start();
  const std::string roleRightAfterRestart = redisRoleAt(primary_.port());
  std::cout << "[ failover ] restarted old primary says ROLE " << roleRightAfterRestart << "\n";

  // The existing client (its connection died with the old primary) and a
  // fresh one both resolve to the promoted replica.
  Client fresh(viaSentinels({sentinel_->port()}));
  for (Client* c : {&client, &fresh}) {
    std::string lastError;
    ASSERT_TRUE(waitUntil(
        [&] {
          auto r = c->command({"GET", "before"});
          if (!r) lastError = r.error().message;
          return r.ok();
        },
        10s, 50ms))
        << lastError;
    EXPECT_EQ(c->primary(), replica_->address());
    EXPECT_EQ(c->command({"GET", "before"}).value().str, "kept");
    ASSERT_TRUE(c->command({"SET", "written-after-restart", "x"}).ok());
  }
  // Nothing of ours landed on the old primary while it was writable.
  Client onOld(directRedis(primary_.port()));
  auto oldValue = onOld.command({"GET", "written-after-restart"});
  if (oldValue.ok() && redisRoleAt(primary_.port()) == "master") {
    EXPECT_TRUE(oldValue.value().isNil());
  }

  // Sentinel turns it into a replica of the new primary, in its own time: it
  // INFOs a replica every 10 s and waits 8 s after a role change before
  // acting, so this takes 10-28 s.
  ASSERT_TRUE(waitUntil([&] { return redisRoleAt(primary_.port()) == "slave"; }, 40s)) << sentinel_->logTail();
  std::cout << "[ failover ] the restarted old primary became a replica " << since(restarted).count()
            << " ms after its restart\n";
}

// Sentinel kills the normal clients of the primary it demotes, so the client
// usually notices a closed connection; if it does reach the demoted primary
// first, the READONLY reply must drop the connection (see the standalone
// READONLY test for that path on its own). Either way no write is lost.
TEST_F(SentinelClusterTest, ManualFailoverMovesTheClientToTheNewPrimary) {
  Client client(viaSentinels({sentinel_->port()}));
  ASSERT_TRUE(client.command({"SET", "k", "1"}).ok());
  ASSERT_EQ(client.primary(), primary_.address());

  // A manual failover demotes the primary while our connection to it stays
  // open. Sentinel refuses (NOGOODSLAVE) until its view of the replica is fresh.
  Client sentinelAdmin(directRedis(sentinel_->port()));
  std::string answer;
  ASSERT_TRUE(waitUntil(
      [&] {
        auto r = sentinelAdmin.command({"SENTINEL", "FAILOVER", kMaster});
        answer = r ? r.value().str : r.error().message;
        return r.ok();
      },
      20s, 200ms))
      << answer;
  ASSERT_TRUE(waitUntil([&] { return redisRoleAt(primary_.port()) == "slave"; }, 20s)) << sentinel_->logTail();
  ASSERT_TRUE(waitUntil([&] { return sentinelNames(sentinel_->port()) == replica_->address(); }, 20s));

  // The first write reaches the demoted primary: READONLY, the connection is
  // dropped and the command did not run.
  auto first = client.command({"SET", "k", "2"});
  std::cout << "[ demote ] first write after the demotion: " << (first ? "ok (server had closed the connection)"
                                                                       : first.error().message)
            << "\n";
  if (!first.ok()) {
    EXPECT_EQ(first.error().kind, ErrorKind::Unavailable);
    EXPECT_THAT(first.error().message, HasSubstr("READONLY"));
    EXPECT_EQ(client.primary(), "");
  }
  // The next one resolves the primary again.
  auto second = client.command({"SET", "k", "3"});
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(client.primary(), replica_->address());
  EXPECT_EQ(client.command({"GET", "k"}).value().str, "3");
  // If the demoted primary had accepted the first write, it would be a replica
  // now holding "2" no one could read back; it holds the new primary's value.
  Client onOld(directRedis(primary_.port()));
  EXPECT_TRUE(waitUntil(
      [&] {
        auto r = onOld.command({"GET", "k"});
        return r.ok() && r.value().str == "3";
      },
      15s));
}

TEST_F(SentinelClusterTest, RevocationIsConfirmedByTheReplicaAndReturnsPromptly) {
  Client client(viaSentinels({sentinel_->port()}));
  session::RedisSessionStore store(client);
  const std::string id(64, 'a');
  ASSERT_TRUE(client.ping());  // the primary is resolved: what follows is the revocation alone

  const auto start = Stopwatch::now();
  ASSERT_TRUE(store.revoke(id, 60s).ok());
  const auto took = since(start);
  std::cout << "[ revoke ] with a replica: " << took.count() << " ms\n";
  // Promptly = WAIT returned on the replica's acknowledgement, not on its
  // timeout (that path counts the write as unconfirmed; see the next test).
  // Milliseconds on an idle machine; the bound only rules out the timeout.
  EXPECT_EQ(client.unconfirmedWrites(), 0u);
  EXPECT_LT(took, session::RedisSessionStore::kRevokeConfirmTimeout);
  // WAIT returned only once the replica had the tombstone: it is there now.
  Client onReplica(directRedis(replica_->port()));
  EXPECT_EQ(onReplica.command({"EXISTS", session::RedisSessionStore::revokedKey(id)}).value().integer, 1);
}

TEST_F(SentinelClusterTest, RevocationSucceedsButIsCountedWhenTheReplicaDoesNotConfirm) {
  Client client(viaSentinels({sentinel_->port()}));
  session::RedisSessionStore store(client);
  ASSERT_TRUE(client.ping());

  // A frozen replica stays connected (ROLE lists it) but acknowledges nothing.
  ASSERT_EQ(::kill(replica_->pid(), SIGSTOP), 0);
  const auto start = Stopwatch::now();
  auto revoked = store.revoke(std::string(64, 'b'), 60s);
  const auto took = since(start);
  ASSERT_EQ(::kill(replica_->pid(), SIGCONT), 0);

  ASSERT_TRUE(revoked.ok()) << revoked.error().message;
  EXPECT_EQ(client.unconfirmedWrites(), 1u);
  EXPECT_GE(took, session::RedisSessionStore::kRevokeConfirmTimeout - 50ms);
  EXPECT_LT(took, session::RedisSessionStore::kRevokeConfirmTimeout + 700ms);
  std::cout << "[ revoke ] replica frozen: " << took.count() << " ms, unconfirmed\n";
  // The write itself is on the primary.
  Client onPrimary(directRedis(primary_.port()));
  EXPECT_EQ(onPrimary.command({"EXISTS", session::RedisSessionStore::revokedKey(std::string(64, 'b'))})
                .value()
                .integer,
            1);
}

// A real Sentinel that names a replica: it monitors a server that is a
// replica (of another primary) under the master name. Its answer must be
// refused on ROLE, and the next Sentinel asked.
TEST(RedisSentinelRoleTest, AnAddressWhoseRoleIsSlaveIsRefused) {
  RedisNode primary;
  primary.start();
  RedisNode replica(primary.port());
  replica.start();
  ASSERT_TRUE(waitUntil([&] { return redisRoleAt(replica.port()) == "slave"; }, 10s));
  SentinelNode namesTheReplica(replica.port());
  namesTheReplica.start();
  SentinelNode namesThePrimary(primary.port());
  namesThePrimary.start();
  ASSERT_EQ(sentinelNames(namesTheReplica.port()), replica.address());

  Client misled(viaSentinels({namesTheReplica.port()}));
  auto r = misled.command({"SET", "k", "v"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Unavailable);
  EXPECT_EQ(r.error().code, "redis_unavailable");
  EXPECT_THAT(r.error().message, HasSubstr("named " + replica.address() + ", whose ROLE is slave"));
  EXPECT_EQ(misled.commandsSent(), 0u);
  EXPECT_EQ(misled.primary(), "");

  Client client(viaSentinels({namesTheReplica.port(), namesThePrimary.port()}));
  auto set = client.command({"SET", "k", "v"});
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(client.primary(), primary.address());
}

// Without Sentinel the same rules hold: a replica's READONLY drops the connection.
TEST(RedisSentinelRoleTest, ReadonlyReplyInStandaloneModeIsUnavailableAndDropsTheConnection) {
  RedisNode primary;
  primary.start();
  RedisNode replica(primary.port());
  replica.start();
  Client client(directRedis(replica.port()));
  ASSERT_TRUE(client.ping());
  EXPECT_EQ(client.primary(), replica.address());

  auto r = client.command({"SET", "k", "v"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Unavailable);
  EXPECT_THAT(r.error().message, HasSubstr("READONLY"));
  EXPECT_EQ(client.primary(), "");
  auto p = client.pipeline({{"GET", "k"}, {"SET", "k", "v"}});
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.error().message, HasSubstr("READONLY"));
}

// A single node (no replica): WAIT would block for its whole timeout, so it
// is not sent; the revocation answers at once. Standalone, that is not a loss
// risk (nothing to fail over to); behind Sentinel it is counted.
TEST(RedisSentinelWaitTest, RevocationWithoutAReplicaReturnsPromptly) {
  proxyos::testing::RedisServer single;
  single.start();
  {
    Client client(directRedis(single.port()));
    session::RedisSessionStore store(client);
    const auto start = Stopwatch::now();
    ASSERT_TRUE(store.revoke(std::string(64, 'c'), 60s).ok());
    EXPECT_LT(since(start), 300ms);
    EXPECT_EQ(client.unconfirmedWrites(), 0u);
    EXPECT_TRUE(store.wasRevoked(std::string(64, 'c')).value());
  }
  SentinelNode sentinel(single.port());
  sentinel.start();
  {
    Client client(viaSentinels({sentinel.port()}));
    session::RedisSessionStore store(client);
    const auto start = Stopwatch::now();
    ASSERT_TRUE(store.revoke(std::string(64, 'd'), 60s).ok());
    EXPECT_LT(since(start), 300ms);
    EXPECT_EQ(client.unconfirmedWrites(), 1u);
    EXPECT_TRUE(store.wasRevoked(std::string(64, 'd')).value());
  }
}

TEST(RedisSentinelParsingTest, RoleRepliesAndNotPrimaryErrors) {
  Reply master{Reply::Type::Array, "", 0,
               {Reply{Reply::Type::String, "master", 0, {}}, Reply{Reply::Type::Integer, "", 42, {}},
                Reply{Reply::Type::Array, "", 0, {Reply{}, Reply{}}}}};
  EXPECT_EQ(roleOf(master), "master");
  EXPECT_EQ(connectedReplicasOf(master), 2);
  Reply slave{Reply::Type::Array, "", 0, {Reply{Reply::Type::String, "slave", 0, {}}}};
  EXPECT_EQ(roleOf(slave), "slave");
  EXPECT_EQ(connectedReplicasOf(slave), -1);
  EXPECT_EQ(roleOf(Reply{Reply::Type::Error, "NOPERM", 0, {}}), "");
  EXPECT_TRUE(isNotPrimaryError("READONLY You can't write against a read only replica."));
  EXPECT_TRUE(isNotPrimaryError("LOADING Redis is loading the dataset in memory"));
  EXPECT_TRUE(isNotPrimaryError("MASTERDOWN Link with MASTER is down"));
  EXPECT_FALSE(isNotPrimaryError("WRONGTYPE Operation against a key holding the wrong kind of value"));
}

}  // namespace
}  // namespace proxyos::redis
