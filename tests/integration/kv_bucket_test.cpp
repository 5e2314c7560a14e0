// KvBucket against a real nats-server -js: outcome kinds, CAS, watch with the
// snapshot-complete signal, and recovery across a server restart.
#include <gtest/gtest.h>

#include <algorithm>

#include "shared/store/kv_bucket.h"
#include "tests/support/test_servers.h"
#include "tests/support/wait.h"

namespace proxyos::store {
namespace {

using namespace std::chrono_literals;
using testing::NatsServer;

class KvBucketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    nats.start();
    conn = NatsConnection::connect({{nats.url()}, "kv-test", 2000ms}).value();
    bucket = std::make_unique<KvBucket>(conn, KvBucketConfig{"proxyos-test", 1, 1, "test"});
    ASSERT_TRUE(bucket->open().ok());
  }
  NatsServer nats;
  std::shared_ptr<NatsConnection> conn;
  std::unique_ptr<KvBucket> bucket;
};

TEST_F(KvBucketTest, OutcomeKinds) {
  EXPECT_EQ(bucket->get("missing").error().kind, ErrorKind::NotFound);
  auto r1 = bucket->create("k", "v1");
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(bucket->create("k", "again").error().kind, ErrorKind::Conflict);
  auto r2 = bucket->update("k", "v2", r1.value());
  ASSERT_TRUE(r2.ok());
  EXPECT_GT(r2.value(), r1.value());
  auto stale = bucket->update("k", "v3", r1.value());
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().kind, ErrorKind::PreconditionFailed);
  EXPECT_EQ(bucket->get("k").value().value, "v2");
  EXPECT_EQ(bucket->get("k").value().revision, r2.value());
  EXPECT_EQ(bucket->create("bad key!", "x").error().kind, ErrorKind::Internal);
}

TEST_F(KvBucketTest, ConditionalDelete) {
  auto r1 = bucket->create("k", "v1").value();
  auto r2 = bucket->put("k", "v2").value();
  auto stale = bucket->removeIfRevision("k", r1);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().kind, ErrorKind::PreconditionFailed);
  EXPECT_EQ(bucket->get("k").value().value, "v2");
  ASSERT_TRUE(bucket->removeIfRevision("k", r2).ok());
  EXPECT_EQ(bucket->get("k").error().kind, ErrorKind::NotFound);
  // A deleted key can be created again (claims are released this way).
  EXPECT_TRUE(bucket->create("k", "v3").ok());
}

TEST_F(KvBucketTest, SnapshotAndLastRevision) {
  EXPECT_EQ(bucket->snapshot("route.*").value().size(), 0u);
  ASSERT_TRUE(bucket->put("route.a", "A").ok());
  ASSERT_TRUE(bucket->put("route.b", "B").ok());
  ASSERT_TRUE(bucket->put("claim.x", "a").ok());
  ASSERT_TRUE(bucket->remove("route.b").ok());
  auto snap = bucket->snapshot("route.*").value();
  ASSERT_EQ(snap.size(), 1u);
  EXPECT_EQ(snap[0].key, "route.a");
  EXPECT_EQ(bucket->snapshot(">").value().size(), 2u);
  EXPECT_EQ(bucket->lastRevision().value(), 4u);
}

TEST_F(KvBucketTest, WatchDeliversSnapshotThenCompleteThenLiveChanges) {
  ASSERT_TRUE(bucket->put("route.a", "A1").ok());
  ASSERT_TRUE(bucket->put("route.a", "A2").ok());
  ASSERT_TRUE(bucket->put("route.b", "B1").ok());
  auto watcher = bucket->watch(">").value();

  std::vector<std::string> seen;
  bool complete = false;
  while (!complete) {
    auto ev = watcher->next(2000ms);
    ASSERT_TRUE(ev.ok());
    ASSERT_NE(ev.value().type, KvWatcher::Event::Type::Idle) << "snapshot never completed";
    if (ev.value().type == KvWatcher::Event::Type::SnapshotComplete) complete = true;
    else seen.push_back(ev.value().entry.key + "=" + ev.value().entry.value);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"route.a=A2", "route.b=B1"})) << "latest value per key only";

  ASSERT_TRUE(bucket->put("route.c", "C1").ok());
  ASSERT_TRUE(bucket->remove("route.a").ok());
  auto e1 = watcher->next(2000ms).value();
  ASSERT_EQ(e1.type, KvWatcher::Event::Type::Entry);
  EXPECT_EQ(e1.entry.key, "route.c");
  auto e2 = watcher->next(2000ms).value();
  ASSERT_EQ(e2.type, KvWatcher::Event::Type::Entry);
  EXPECT_EQ(e2.entry.key, "route.a");
  EXPECT_EQ(e2.entry.op, KvEntry::Op::Delete);
  EXPECT_EQ(watcher->next(100ms).value().type, KvWatcher::Event::Type::Idle);
}

TEST_F(KvBucketTest, LiveChangesAfterTheSnapshotComeOnceInOrderWithTheirRevisions) {
  // After the snapshot the watcher moves to a start-sequence consumer (see
  // KvWatcher): nothing written around the switch may be lost or repeated.
  ASSERT_TRUE(bucket->put("route.a", "A1").ok());
  ASSERT_TRUE(bucket->remove("route.gone").ok());  // a delete marker is the bucket's last entry
  auto watcher = bucket->watch(">").value();
  const uint64_t early = bucket->put("route.b", "B1").value();  // may land in the snapshot or after it
  std::vector<std::string> seen;
  for (;;) {
    auto ev = watcher->next(2000ms);
    ASSERT_TRUE(ev.ok());
    ASSERT_NE(ev.value().type, KvWatcher::Event::Type::Idle);
    if (ev.value().type == KvWatcher::Event::Type::SnapshotComplete) break;
    seen.push_back(ev.value().entry.key);
  }
  std::vector<uint64_t> revs;
  for (int i = 0; i < 50; ++i) revs.push_back(bucket->put("route.n" + std::to_string(i), "v").value());
  revs.push_back(bucket->put("route.a", "A2").value());
  const uint64_t del = [&] {
    EXPECT_TRUE(bucket->remove("route.n0").ok());
    return bucket->lastRevision().value();
  }();
  // route.b comes exactly once: in the snapshot or as the first live entry.
  const bool bInSnapshot = std::count(seen.begin(), seen.end(), "route.b") == 1;
  std::vector<KvEntry> live;
  while (live.size() < (bInSnapshot ? 52u : 53u)) {
    auto ev = watcher->next(2000ms);
    ASSERT_TRUE(ev.ok());
    ASSERT_EQ(ev.value().type, KvWatcher::Event::Type::Entry) << "after " << live.size() << " live entries";
    live.push_back(ev.value().entry);
  }
  std::size_t i = 0;
  if (!bInSnapshot) {
    EXPECT_EQ(live[0].key, "route.b");
    EXPECT_EQ(live[0].revision, early);
    i = 1;
  }
  for (std::size_t k = 0; k < revs.size(); ++k, ++i) {
    EXPECT_EQ(live[i].revision, revs[k]);
    EXPECT_EQ(live[i].op, KvEntry::Op::Put);
  }
  EXPECT_EQ(live[i - 1].key, "route.a");
  EXPECT_EQ(live[i - 1].value, "A2");
  EXPECT_EQ(live[i].key, "route.n0");
  EXPECT_EQ(live[i].op, KvEntry::Op::Delete);
  EXPECT_EQ(live[i].revision, del);
  EXPECT_EQ(watcher->next(100ms).value().type, KvWatcher::Event::Type::Idle) << "nothing twice";
}

TEST_F(KvBucketTest, EmptyBucketSnapshotCompletesAtOnce) {
  auto watcher = bucket->watch(">").value();
  auto ev = watcher->next(2000ms);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev.value().type, KvWatcher::Event::Type::SnapshotComplete);
}

TEST_F(KvBucketTest, SurvivesServerRestart) {
  ASSERT_TRUE(bucket->put("route.a", "A1").ok());
  auto watcher = bucket->watch(">").value();
  ASSERT_EQ(watcher->next(2000ms).value().type, KvWatcher::Event::Type::Entry);
  ASSERT_EQ(watcher->next(2000ms).value().type, KvWatcher::Event::Type::SnapshotComplete);

  nats.kill();
  auto down = bucket->put("route.b", "B1");
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().kind, ErrorKind::Unavailable);
  EXPECT_FALSE(conn->connected());

  nats.restart();
  ASSERT_TRUE(testing::waitUntil([&] { return conn->connected(); }, 10s));
  // Writes work again with the same objects; the data survived on disk.
  ASSERT_TRUE(testing::waitUntil([&] { return bucket->put("route.b", "B2").ok(); }, 10s));
  EXPECT_EQ(bucket->get("route.a").value().value, "A1");
  // The watcher resumes by itself and sees the write made after the restart.
  bool sawB = false;
  ASSERT_TRUE(testing::waitUntil(
      [&] {
        auto ev = watcher->next(200ms);
        if (ev.ok() && ev.value().type == KvWatcher::Event::Type::Entry && ev.value().entry.key == "route.b")
          sawB = ev.value().entry.value == "B2";
        return sawB;
      },
      15s));
}

TEST_F(KvBucketTest, PublishSubscribe) {
  std::mutex mu;
  std::vector<std::string> got;
  auto sub = conn->subscribe("proxyos.session.revoked", [&](const std::string&, const std::string& data) {
    std::lock_guard lock(mu);
    got.push_back(data);
  });
  ASSERT_TRUE(sub.ok());
  natsConnection_Flush(conn->raw());
  ASSERT_TRUE(conn->publish("proxyos.session.revoked", "abc").ok());
  ASSERT_TRUE(testing::waitUntil(
      [&] {
        std::lock_guard lock(mu);
        return got.size() == 1;
      },
      5s));
  std::lock_guard lock(mu);
  EXPECT_EQ(got[0], "abc");
}

}  // namespace
}  // namespace proxyos::store

namespace proxyos::store {
namespace {

// A service started before NATS must come up (not hang in connect) and heal
// once NATS arrives.
TEST(NatsConnectionTest, StartsWhileNatsIsDownAndConnectsWhenItArrives) {
  testing::NatsServer nats;
  nats.start();
  const std::string url = nats.url();
  nats.stop();
  auto conn = NatsConnection::connect({{url}, "late", std::chrono::milliseconds(500)});
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  EXPECT_FALSE(conn.value()->connected());
  KvBucket bucket(conn.value(), {"proxyos-late", 1, 1, "test"});
  EXPECT_EQ(bucket.put("k", "v").error().kind, ErrorKind::Unavailable);
  nats.start();
  ASSERT_TRUE(testing::waitUntil([&] { return conn.value()->connected(); }, std::chrono::seconds(10)));
  ASSERT_TRUE(testing::waitUntil([&] { return bucket.put("k", "v").ok(); }, std::chrono::seconds(10)));
}

}  // namespace
}  // namespace proxyos::store
