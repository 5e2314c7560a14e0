// ProxyOS on a 3-node NATS JetStream cluster with R3 buckets (real
// nats-server processes, TOOLCHAIN.md "Clustered NATS"): the config watch
// survives the death of its node, writes go through a leader election, and
// buckets are created idempotently with a node down.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "services/edge-proxy/config_source.h"
#include "shared/store/kv_bucket.h"
#include "tests/support/nats_cluster.h"
#include "tests/support/wait.h"

namespace proxyos::store {
namespace {

using namespace std::chrono_literals;
using testing::NatsCluster;
using Steady = std::chrono::steady_clock;

constexpr const char* kBucket = "proxyos-routes";
constexpr const char* kStream = "KV_proxyos-routes";

double ms(Steady::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::shared_ptr<NatsConnection> connectTo(const std::vector<std::string>& servers, const std::string& name) {
  auto conn = NatsConnection::connect({servers, name, 2000ms});
  if (!conn) return nullptr;
  auto c = conn.value();
  if (!testing::waitUntil([&] { return c->connected(); }, 10s)) return nullptr;
  return c;
}

std::string connectedUrl(const NatsConnection& conn) {
  char buf[256] = {};
  natsConnection_GetConnectedUrl(conn.raw(), buf, sizeof buf);
  return buf;
}

/// Follows a bucket on its own thread and records every entry with the time it arrived.
class Recorder {
 public:
  struct Seen {
    std::string key;
    uint64_t revision;
    Steady::time_point at;
  };
  explicit Recorder(std::unique_ptr<KvWatcher> watcher) : watcher_(std::move(watcher)) {
    thread_ = std::thread([this] { run(); });
  }
  ~Recorder() {
    stop_ = true;
    thread_.join();
  }
  bool snapshotComplete() const { return complete_.load(); }
  std::optional<Seen> find(const std::string& key) const {
    std::lock_guard lock(mu_);
    for (const auto& s : seen_)
      if (s.key == key) return s;
    return std::nullopt;
  }
  std::vector<Seen> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }
  int errors() const { return errors_.load(); }
  const KvWatcher& watcher() const { return *watcher_; }

 private:
  void run() {
    while (!stop_) {
      auto ev = watcher_->next(100ms);
      if (!ev) {
        ++errors_;
        continue;
      }
      if (ev.value().type == KvWatcher::Event::Type::SnapshotComplete) complete_ = true;
      if (ev.value().type != KvWatcher::Event::Type::Entry) continue;
      std::lock_guard lock(mu_);
      seen_.push_back({ev.value().entry.key, ev.value().entry.revision, Steady::now()});
    }
  }
  std::unique_ptr<KvWatcher> watcher_;
  mutable std::mutex mu_;
  std::vector<Seen> seen_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> complete_{false};
  std::atomic<int> errors_{0};
  std::thread thread_;
};

class NatsClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster.start();
    writerConn = connectTo(cluster.urls(), "cluster-test-writer");
    ASSERT_NE(writerConn, nullptr);
    writer = std::make_unique<KvBucket>(writerConn, KvBucketConfig{kBucket, 3, 1, "routes"});
    ASSERT_TRUE(writer->open().ok());
  }

  NatsCluster cluster{3};
  std::shared_ptr<NatsConnection> writerConn;
  std::unique_ptr<KvBucket> writer;
};

// The edge's watch, connected through one node that then dies (SIGKILL).
// Writes run all along; afterwards every acknowledged write must have been
// delivered exactly once, in order, and the first write acknowledged after
// the kill within 5 s of its acknowledgement.
void watchSurvivesKill(NatsCluster& cluster, KvBucket& writer, bool killConsumerHost) {
  // Connected through node 0 only: it learns the others from the cluster
  // (NATS.c keeps discovered servers for reconnecting).
  auto watchConn = connectTo({cluster.url(0)}, "cluster-test-watcher");
  ASSERT_NE(watchConn, nullptr);
  KvBucket watched(watchConn, {kBucket, 3, 1, "routes"});
  ASSERT_TRUE(watched.put("before", "x").ok());
  auto w = watched.watch(">");
  ASSERT_TRUE(w.ok()) << w.error().message;
  Recorder rec(std::move(w.value()));
  ASSERT_TRUE(testing::waitUntil([&] { return rec.snapshotComplete(); }, 10s));
  auto first = writer.put("live.first", "1");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(testing::waitUntil([&] { return rec.find("live.first").has_value(); }, 5s));

  int victim = 0;  // the node the watch is connected to
  if (killConsumerHost) {
    auto host = cluster.consumerLeader(kStream, "*");
    ASSERT_TRUE(host.has_value()) << "cannot tell which node hosts the watch's consumer";
    victim = *host;
  }
  // Recreating a consumer needs the JetStream meta leader: when the victim
  // is also the meta leader, no consumer can be made until that election is
  // over (5-9 s in nats-server 2.9); the watch reads the stream meanwhile,
  // so the bound is the same (docs/architecture.md).
  const auto bound = 5s;
  std::printf("watch connected to %s; consumer on node %d; stream leader node %d; meta leader node %d; killing "
              "node %d\n",
              connectedUrl(*watchConn).c_str(), cluster.consumerLeader(kStream, "*").value_or(-1),
              cluster.streamLeader(kStream).value_or(-1), cluster.metaLeader().value_or(-1), victim);

  // A steady trickle of writes across the kill (each retried through an
  // election by KvBucket); remember what was acknowledged.
  std::mutex mu;
  std::vector<std::pair<std::string, uint64_t>> acked;
  std::optional<std::pair<std::string, Steady::time_point>> firstAfterKill;
  std::atomic<bool> killed{false};
  std::atomic<bool> stopWriting{false};
  int failures = 0;
  std::thread writerThread([&] {
    for (int i = 0; !stopWriting; ++i) {
      const std::string key = "seq." + std::to_string(i);
      const bool afterKill = killed.load();
      auto rev = writer.put(key, std::to_string(i));
      const auto at = Steady::now();
      std::lock_guard lock(mu);
      if (!rev) {
        ++failures;
        std::printf("put %s failed: %s\n", key.c_str(), rev.error().message.c_str());
        continue;
      }
      acked.emplace_back(key, rev.value());
      if (afterKill && !firstAfterKill) firstAfterKill = {{key, at}};
      std::this_thread::sleep_for(50ms);  // pacing of the load, not a wait for a condition
    }
  });
  std::this_thread::sleep_for(500ms);  // writes before the kill
  const auto killAt = Steady::now();
  cluster.kill(victim);
  killed = true;

  // The first write acknowledged after the kill reaches the watch.
  ASSERT_TRUE(testing::waitUntil(
      [&] {
        std::lock_guard lock(mu);
        return firstAfterKill && rec.find(firstAfterKill->first).has_value();
      },
      20s))
      << "no write made after the kill reached the watch";
  std::string key;
  Steady::time_point ackedAt;
  {
    std::lock_guard lock(mu);
    key = firstAfterKill->first;
    ackedAt = firstAfterKill->second;
  }
  const auto seenAt = rec.find(key)->at;
  std::printf("first put after the kill: acknowledged %.0f ms after the kill, delivered %.0f ms after its "
              "acknowledgement (%.0f ms after the kill); watch consumers recreated: %llu, entries read from the "
              "stream without one: %llu\n",
              ms(ackedAt - killAt), ms(seenAt - ackedAt), ms(seenAt - killAt),
              static_cast<unsigned long long>(rec.watcher().recreations()),
              static_cast<unsigned long long>(rec.watcher().entriesReadDirectly()));
  EXPECT_LE(seenAt - ackedAt, bound);

  // Keep writing a little, then check nothing was lost or repeated.
  std::this_thread::sleep_for(1s);
  stopWriting = true;
  writerThread.join();
  std::vector<std::pair<std::string, uint64_t>> expected;
  {
    std::lock_guard lock(mu);
    expected = acked;
  }
  ASSERT_TRUE(testing::waitUntil([&] { return rec.find(expected.back().first).has_value(); }, 10s));
  EXPECT_EQ(rec.errors(), 0) << "a live watch never fails: it recovers by itself";
  const auto seen = rec.seen();
  for (size_t i = 1; i < seen.size(); ++i)
    if (seen[i].revision <= seen[i - 1].revision && seen[i - 1].key != "before")
      ADD_FAILURE() << "out of order or repeated: " << seen[i - 1].key << "@" << seen[i - 1].revision << " then "
                    << seen[i].key << "@" << seen[i].revision;
  for (const auto& [k, rev] : expected) {
    int times = 0;
    for (const auto& s : seen) times += s.revision == rev ? 1 : 0;
    EXPECT_EQ(times, 1) << k << " (revision " << rev << ") delivered " << times << " times";
  }
  std::printf("%zu writes acknowledged, %d failed, %zu entries delivered\n", expected.size(), failures, seen.size());
  cluster.restart(victim);
}

TEST_F(NatsClusterTest, WatchSurvivesTheDeathOfTheNodeItIsConnectedTo) {
  watchSurvivesKill(cluster, *writer, false);
}

TEST_F(NatsClusterTest, WatchSurvivesTheDeathOfTheNodeHostingItsConsumer) {
  watchSurvivesKill(cluster, *writer, true);
}

TEST_F(NatsClusterTest, WritesGoThroughAStreamLeaderElection) {
  ASSERT_TRUE(writer->put("route.a", "1").ok());
  auto existing = writer->put("route.b", "1");
  ASSERT_TRUE(existing.ok());
  auto leader = cluster.streamLeader(kStream);
  ASSERT_TRUE(leader.has_value());
  // Writers connected to the other nodes, so what they see is the election
  // alone: one that never retries, and the one under test.
  auto conn = connectTo(cluster.urlsExcept(*leader), "cluster-test-election");
  ASSERT_NE(conn, nullptr);
  KvBucketTiming noRetry;
  noRetry.retry = RetryPolicy::none();
  KvBucket plain(conn, {kBucket, 3, 1, "routes"}, noRetry);
  KvBucket retrying(conn, {kBucket, 3, 1, "routes"});
  ASSERT_TRUE(plain.open().ok());
  ASSERT_TRUE(retrying.open().ok());

  cluster.kill(*leader);
  const auto killAt = Steady::now();
  auto bare = plain.put("route.bare", "1");
  std::printf("killed stream leader node %d; a write without retry: %s\n", *leader,
              bare ? "succeeded" : bare.error().message.c_str());

  // A create (uniqueness claim) and a compare-and-set through the election:
  // they succeed, and never report the caller's own write as a conflict.
  auto claim = retrying.create("claim.x", "route-a");
  const auto claimAt = Steady::now();
  ASSERT_TRUE(claim.ok()) << claim.error().message;
  auto cas = retrying.update("route.b", "2", existing.value());
  ASSERT_TRUE(cas.ok()) << cas.error().message;
  std::printf("create succeeded %.0f ms after the kill; retries so far: %llu\n", ms(claimAt - killAt),
              static_cast<unsigned long long>(retrying.retries()));
  auto stored = retrying.get("claim.x");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored.value().value, "route-a");
  EXPECT_EQ(stored.value().revision, claim.value());
  EXPECT_EQ(retrying.get("route.b").value().revision, cas.value());
  auto again = retrying.create("claim.x", "route-b");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, ErrorKind::Conflict);
  cluster.restart(*leader);
}

TEST_F(NatsClusterTest, BucketsAreCreatedIdempotentlyWithOneNodeDown) {
  cluster.kill(2);
  auto conn = connectTo(cluster.urlsExcept(2), "cluster-test-create");
  ASSERT_NE(conn, nullptr);
  std::printf("node 2 killed; meta leader now node %d\n", cluster.metaLeader().value_or(-1));
  // First use creates the bucket: the meta leader may be electing, and an R3
  // stream may take long to create with a node down (retried, kv_bucket.h).
  const auto start = Steady::now();
  KvBucket fresh(conn, {"proxyos-fresh", 3, 1, "created with a node down"});
  auto rev = fresh.put("k", "v");
  ASSERT_TRUE(rev.ok()) << rev.error().message;
  std::printf("R3 bucket created and written with node 2 down in %.0f ms (%llu retries)\n",
              ms(Steady::now() - start), static_cast<unsigned long long>(fresh.retries()));
  ASSERT_TRUE(fresh.open().ok());
  // Again, from another instance and another connection: the same bucket.
  KvBucket second(writerConn, {"proxyos-fresh", 3, 1, "created with a node down"});
  auto read = second.get("k");
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read.value().revision, rev.value());
  EXPECT_TRUE(second.open().ok());
  // An existing bucket binds too, once its stream has a leader again (it may
  // have led from node 2: reads retry through that election).
  KvBucket existing(writerConn, {kBucket, 3, 1, "routes"});
  auto missing = existing.get("no-such-key");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ErrorKind::NotFound) << missing.error().message;

  // The node comes back; the bucket has its three replicas.
  cluster.restart(2);
  ASSERT_TRUE(cluster.waitHealthy(30s));
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  ASSERT_EQ(js_GetStreamInfo(&si, conn->jetStream(), "KV_proxyos-fresh", nullptr, &jerr), NATS_OK);
  EXPECT_EQ(si->Config->Replicas, 3);
  jsStreamInfo_Destroy(si);
  KvBucket third(writerConn, {"proxyos-fresh", 3, 1, "created with a node down"});
  ASSERT_TRUE(third.open().ok());
  EXPECT_EQ(third.get("k").value().value, "v");
}

// A single-node install grown to a cluster: its buckets were made with one
// replica, and PROXYOS_NATS_REPLICAS=3 now raises them in place, data kept.
// A service left at the default 1 never lowers them again.
TEST_F(NatsClusterTest, AnExistingBucketIsRaisedToTheConfiguredReplicasAndNeverLowered) {
  const char* const stream = "KV_proxyos-grown";
  const auto replicasNow = [&](int* current = nullptr) {
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    if (js_GetStreamInfo(&si, writerConn->jetStream(), stream, nullptr, &jerr) != NATS_OK) return -1;
    const int replicas = si->Config->Replicas;
    if (current != nullptr) {
      *current = 0;
      for (int i = 0; si->Cluster != nullptr && i < si->Cluster->ReplicasLen; ++i)
        *current += si->Cluster->Replicas[i]->Current ? 1 : 0;
    }
    jsStreamInfo_Destroy(si);
    return replicas;
  };

  KvBucket single(writerConn, {"proxyos-grown", 1, 1, "made on a single node"});
  auto rev = single.put("k", "v");
  ASSERT_TRUE(rev.ok()) << rev.error().message;
  ASSERT_EQ(replicasNow(), 1);

  KvBucket clustered(writerConn, {"proxyos-grown", 3, 1, "made on a single node"});
  ASSERT_TRUE(clustered.open().ok());
  EXPECT_EQ(replicasNow(), 3);
  // The two new replicas catch up from the leader.
  int current = 0;
  EXPECT_TRUE(testing::waitUntil([&] { return replicasNow(&current) == 3 && current == 2; }, 15s))
      << current << " of 2 followers current";
  auto read = clustered.get("k");
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read.value().revision, rev.value());

  KvBucket defaulted(writerConn, {"proxyos-grown", 1, 1, "made on a single node"});
  ASSERT_TRUE(defaulted.open().ok());
  EXPECT_EQ(replicasNow(), 3);
}

// The edge's config age (/status, proxyos_edge_config_age_seconds): under a
// second or so while the watches hear heartbeats, growing once NATS is gone,
// back down once it returns.
TEST_F(NatsClusterTest, EdgeConfigAgeFollowsContactWithNats) {
  auto conn = connectTo({cluster.url(0)}, "cluster-test-edge");
  ASSERT_NE(conn, nullptr);
  edge::NatsConfigSourceOptions options;
  options.systemHost = "dash.example.com";
  options.replicas = 3;
  edge::NatsConfigSource source(conn, SystemClock::instance(), options);
  std::atomic<int> tables{0};
  ASSERT_TRUE(source.start([&](std::shared_ptr<const edge::RouteTable>) { ++tables; }).ok());
  ASSERT_TRUE(testing::waitUntil([&] { return tables.load() > 0; }, 15s));
  ASSERT_TRUE(testing::waitUntil([&] { return source.freshness().lastContactAt.has_value(); }, 5s));
  // Idle: only heartbeats (1 s) keep it fresh.
  std::this_thread::sleep_for(2500ms);  // let heartbeats, not the snapshot, carry the age
  EXPECT_LT(source.freshness().ageSeconds, 1.6);

  for (int i = 0; i < cluster.size(); ++i) cluster.kill(i);
  EXPECT_TRUE(testing::waitUntil([&] { return source.freshness().ageSeconds > 4; }, 10s))
      << "age " << source.freshness().ageSeconds << " with every NATS node dead";
  const auto deadAt = Steady::now();
  for (int i = 0; i < cluster.size(); ++i) cluster.restart(i);
  ASSERT_TRUE(cluster.waitHealthy(30s));
  EXPECT_TRUE(testing::waitUntil([&] { return source.freshness().ageSeconds < 1.6; }, 15s))
      << "age " << source.freshness().ageSeconds << " after NATS came back";
  std::printf("config age back under 1.6 s %.0f ms after the restart began\n", ms(Steady::now() - deadAt));
  // And live changes flow again.
  const int before = tables.load();
  ASSERT_TRUE(writer->put("claim.after-restart", "x").ok());
  EXPECT_TRUE(testing::waitUntil([&] { return tables.load() > before; }, 5s));
  source.stop();
}

}  // namespace
}  // namespace proxyos::store
