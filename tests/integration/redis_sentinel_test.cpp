// The Redis client in Sentinel mode against real processes on loopback: a
// primary, a replica (--replicaof) and a Sentinel (redis-server --sentinel),
// each on free ports in its own temp directory. Nothing is mocked: failovers
// are real SIGKILLs and real Sentinel decisions, waited for by polling.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "shared/core/url.h"
#include "shared/redis/redis_client.h"
#include "shared/redis/sentinel.h"
#include "shared/session/redis_session_store.h"
#include "tests/support/loopback.h"  // freePort
#include "tests/support/server_process.h"
#include "tests/support/test_servers.h"
#include "tests/support/wait.h"

namespace proxyos::redis {
namespace {

using namespace std::chrono_literals;
using proxyos::testing::ServerProcess;
using proxyos::testing::waitUntil;
using ::testing::HasSubstr;
using Stopwatch = std::chrono::steady_clock;

constexpr const char* kMaster = "proxyos";

std::chrono::milliseconds since(Stopwatch::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Stopwatch::now() - start);
}

std::string address(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

// INFO carries process_id: only our own child can answer with its pid. (A
// Sentinel answers INFO but not QUIT, so the probe reads one reply instead of
// waiting for the server to close.)
bool answersAsPid(uint16_t port, pid_t pid) {
  ClientOptions o;
  o.endpoint.host = "127.0.0.1";
  o.endpoint.port = port;
  o.connectTimeout = 300ms;
  o.ioTimeout = 500ms;
  Client probe(o);
  auto reply = probe.command({"INFO", "server"});
  return reply && reply.value().str.find("\r\nprocess_id:" + std::to_string(pid) + "\r\n") != std::string::npos;
}

/// redis-server without persistence; a replica of `replicaOf` when set.
/// restart() keeps the port and comes back empty (nothing is saved).
class RedisNode {
 public:
  explicit RedisNode(std::optional<uint16_t> replicaOf = std::nullopt)
      : replicaOf_(replicaOf),
        server_(ServerProcess::Spec{
            .name = "redis-node",
            .binary = "redis-server",
            .portCount = 1,
            .args =
                [this](const std::vector<uint16_t>& ports, const std::string& dir) {
                  std::vector<std::string> args{"--port", std::to_string(ports[0]), "--bind", "127.0.0.1",
                                                "--dir", dir, "--save", "", "--appendonly", "no",
                                                "--daemonize", "no",
                                                // A full sync starts at once, not after the default 5 s.
                                                "--repl-diskless-sync-delay", "0"};
                  if (replicaOf_) {
                    args.insert(args.end(), {"--replicaof", "127.0.0.1", std::to_string(*replicaOf_)});
                  }
                  return args;
                },
            .ready = [](const std::vector<uint16_t>& ports, pid_t pid) { return answersAsPid(ports[0], pid); },
            .env = {},
            .startTimeout = 10s,
        }) {}
  RedisNode(const RedisNode&) = delete;
  RedisNode& operator=(const RedisNode&) = delete;

  void start() { server_.start(); }
  void kill() { server_.kill(); }
  pid_t pid() const { return server_.pid(); }
  uint16_t port() const { return server_.port(); }
  std::string address() const { return redis::address(port()); }

 private:
  std::optional<uint16_t> replicaOf_;
  ServerProcess server_;
};

/// redis-server --sentinel monitoring `kMaster` at 127.0.0.1:<monitored>,
/// quorum 1, down-after 1000 ms, failover-timeout 5000 ms. The config lives
/// in the Sentinel's own directory: Sentinel rewrites it.
class SentinelNode {
 public:
  explicit SentinelNode(uint16_t monitored, std::string master = kMaster)
      : monitored_(monitored),
        master_(std::move(master)),
        server_(ServerProcess::Spec{
            .name = "redis-sentinel",
            .binary = "redis-server",
            .portCount = 1,
            .args =
                [this](const std::vector<uint16_t>& ports, const std::string& dir) {
                  const std::string conf = dir + "/sentinel.conf";
                  std::ofstream out(conf, std::ios::trunc);
                  out << "port " << ports[0] << "\nbind 127.0.0.1\ndir " << dir << "\n"
                      << "sentinel monitor " << master_ << " 127.0.0.1 " << monitored_ << " 1\n"
                      << "sentinel down-after-milliseconds " << master_ << " 1000\n"
                      << "sentinel failover-timeout " << master_ << " 5000\n";
                  return std::vector<std::string>{conf, "--sentinel"};
                },
            .ready = [](const std::vector<uint16_t>& ports, pid_t pid) { return answersAsPid(ports[0], pid); },
            .env = {},
            .startTimeout = 10s,
        }) {}
  SentinelNode(const SentinelNode&) = delete;
  SentinelNode& operator=(const SentinelNode&) = delete;

  void start() { server_.start(); }
  uint16_t port() const { return server_.port(); }
  std::string logTail() const { return server_.logTail(); }

 private:
  uint16_t monitored_;
  std::string master_;
  ServerProcess server_;
};

ClientOptions direct(uint16_t port) {
  ClientOptions o;
  o.endpoint.host = "127.0.0.1";
  o.endpoint.port = port;
  o.connectTimeout = 500ms;
  o.ioTimeout = 1000ms;
  return o;
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

// What a server says about itself, on a connection of its own.
std::string roleAt(uint16_t port) {
  Client c(direct(port));
  auto r = c.command({"ROLE"});
  return r ? roleOf(r.value()) : "";
}

int replicasAt(uint16_t port) {
  Client c(direct(port));
  auto r = c.command({"ROLE"});
  return r ? connectedReplicasOf(r.value()) : -1;
}

// Where the Sentinel says the primary is, "" when it does not answer.
std::string sentinelNames(uint16_t sentinelPort, const std::string& master = kMaster) {
  auto a = askSentinel(HostPort{"127.0.0.1", sentinelPort}, master, 500ms);
  return a ? a.value().host + ":" + std::to_string(a.value().port) : "";
}

bool sentinelKnowsAReplica(uint16_t sentinelPort) {
  Client c(direct(sentinelPort));
  auto r = c.command({"SENTINEL", "replicas", kMaster});
  return r && r.value().type == Reply::Type::Array && !r.value().elements.empty();
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
    ASSERT_TRUE(waitUntil([&] { return replicasAt(primary_.port()) == 1; }, 10s)) << "replica never synced";
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
  Client onPrimary(direct(primary_.port()));
  EXPECT_EQ(onPrimary.command({"GET", "k"}).value().str, "v");
  Client onReplica(direct(replica_->port()));
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
  EXPECT_EQ(roleAt(replica_->port()), "master");
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
  const std::string roleRightAfterRestart = roleAt(primary_.port());
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
  Client onOld(direct(primary_.port()));
  auto oldValue = onOld.command({"GET", "written-after-restart"});
  if (oldValue.ok() && roleAt(primary_.port()) == "master") {
    EXPECT_TRUE(oldValue.value().isNil());
  }

  // Sentinel turns it into a replica of the new primary, in its own time: it
  // INFOs a replica every 10 s and waits 8 s after a role change before
  // acting, so this takes 10-28 s.
  ASSERT_TRUE(waitUntil([&] { return roleAt(primary_.port()) == "slave"; }, 40s)) << sentinel_->logTail();
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
  Client sentinelAdmin(direct(sentinel_->port()));
  std::string answer;
  ASSERT_TRUE(waitUntil(
      [&] {
        auto r = sentinelAdmin.command({"SENTINEL", "FAILOVER", kMaster});
        answer = r ? r.value().str : r.error().message;
        return r.ok();
      },
      20s, 200ms))
      << answer;
  ASSERT_TRUE(waitUntil([&] { return roleAt(primary_.port()) == "slave"; }, 20s)) << sentinel_->logTail();
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
  Client onOld(direct(primary_.port()));
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

  const auto start = Stopwatch::now();
  ASSERT_TRUE(store.revoke(id, 60s).ok());
  const auto took = since(start);
  EXPECT_LT(took, 500ms);
  std::cout << "[ revoke ] with a replica: " << took.count() << " ms\n";
  EXPECT_EQ(client.unconfirmedWrites(), 0u);
  // WAIT returned only once the replica had the tombstone: it is there now.
  Client onReplica(direct(replica_->port()));
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
  Client onPrimary(direct(primary_.port()));
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
  ASSERT_TRUE(waitUntil([&] { return roleAt(replica.port()) == "slave"; }, 10s));
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
  Client client(direct(replica.port()));
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
    Client client(direct(single.port()));
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
