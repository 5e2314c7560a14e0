// The edge's live config against a real nats-server -js: routes written the
// way the route registry stores them become route tables; the first only once
// the snapshot is complete, live changes coalesced, bad entries skipped, and
// the watch surviving a NATS restart. Plus the last-known-good start.
#include <gtest/gtest.h>

#include <mutex>

#include "services/edge-proxy/config_source.h"
#include "services/edge-proxy/last_known_good.h"
#include "services/edge-proxy/table_holder.h"
#include "shared/store/kv_bucket.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_servers.h"
#include "tests/support/wait.h"

namespace proxyos::edge {
namespace {

constexpr const char* kProviderJson =
    R"({"name":"Authelia","type":"authelia","forwardAuthUrl":"http://authelia:9091/api/authz/forward-auth?x=1","loginUrl":"https://auth.example.com/","authResponseHeaders":["Remote-User"]})";

using namespace std::chrono_literals;

model::Route makeRoute(const std::string& id, const std::string& domain, const std::string& upstream = "http://up:80") {
  model::Route r;
  r.id = id;
  r.name = id;
  r.domains = {domain};
  r.upstreams = {upstream};
  return r;
}

// As RouteService::encode() does: the contract's JSON without "revision".
std::string storedValue(const model::Route& r) {
  auto j = model::toJson(r);
  j.erase("revision");
  return j.dump();
}

/// Tables handed to the callback, from the source's thread.
class Received {
 public:
  void add(std::shared_ptr<const RouteTable> t) {
    std::lock_guard lock(mu_);
    tables_.push_back(std::move(t));
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return tables_.size();
  }
  std::shared_ptr<const RouteTable> at(std::size_t i) const {
    std::lock_guard lock(mu_);
    return i < tables_.size() ? tables_[i] : nullptr;
  }
  std::shared_ptr<const RouteTable> last() const {
    std::lock_guard lock(mu_);
    return tables_.empty() ? nullptr : tables_.back();
  }
  /// True once the latest table routes `host` to route `id`.
  bool lastRoutes(const std::string& host, const std::string& id) const {
    auto t = last();
    const MatchedRoute* m = t ? t->match(host, "/") : nullptr;
    return m != nullptr && m->route.id == id;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<const RouteTable>> tables_;
};

class EdgeConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    nats.start();
    conn = store::NatsConnection::connect({{nats.url()}, "edge-config-test", 2000ms}).value();
    routes = std::make_unique<store::KvBucket>(conn, store::KvBucketConfig{"proxyos-routes", 1, 1, "routes"});
    providers = std::make_unique<store::KvBucket>(conn, store::KvBucketConfig{"proxyos-sso-providers", 1, 1, "sso"});
    ASSERT_TRUE(routes->open().ok());
    ASSERT_TRUE(providers->open().ok());
  }
  void TearDown() override {
    if (source) source->stop();
  }

  uint64_t putRoute(const model::Route& r) {
    auto rev = routes->put("route." + r.id, storedValue(r));
    EXPECT_TRUE(rev.ok()) << rev.error().message;
    return rev.ok() ? rev.value() : 0;
  }

  void startSource(std::shared_ptr<store::NatsConnection> c = nullptr) {
    NatsConfigSourceOptions options;
    options.systemHost = "dash.example.com";
    source = std::make_unique<NatsConfigSource>(c ? c : conn, SystemClock::instance(), options);
    ASSERT_TRUE(source->start([this](std::shared_ptr<const RouteTable> t) { received.add(std::move(t)); }).ok());
  }

  testing::NatsServer nats;
  std::shared_ptr<store::NatsConnection> conn;
  std::unique_ptr<store::KvBucket> routes;
  std::unique_ptr<store::KvBucket> providers;
  Received received;
  std::unique_ptr<NatsConfigSource> source;  // declared last: stopped before the rest goes
};

TEST_F(EdgeConfigTest, FirstTableOnlyOnceTheSnapshotIsComplete) {
  for (int i = 0; i < 300; ++i) putRoute(makeRoute("r" + std::to_string(i), "h" + std::to_string(i) + ".test"));
  ASSERT_TRUE(routes->put("claim.abc", "r0").ok());  // claims move the revision, nothing else
  ASSERT_TRUE(providers->put("provider.p1", kProviderJson).ok());
  const uint64_t revision = routes->lastRevision().value();

  startSource();
  ASSERT_TRUE(testing::waitUntil([&] { return received.size() >= 1; }, 10s));
  auto first = received.at(0);
  // A table built mid-snapshot would miss routes: the first one has them all.
  EXPECT_EQ(first->routeCount(), 300u);
  EXPECT_EQ(first->revision(), revision);
  ASSERT_NE(first->provider("p1"), nullptr);
  EXPECT_EQ(first->match("h299.test", "/")->route.id, "r299");
  EXPECT_EQ(first->match("H0.TEST:8080", "/")->route.revision, 1u) << "revision = the KV entry's";
  EXPECT_EQ(first->match("dash.example.com", "/")->kind, MatchKind::System);
  EXPECT_TRUE(source->stats().snapshotComplete);
}

TEST_F(EdgeConfigTest, EmptyBucketsYieldAnEmptyTable) {
  startSource();
  ASSERT_TRUE(testing::waitUntil([&] { return received.size() >= 1; }, 10s));
  EXPECT_EQ(received.at(0)->routeCount(), 0u);
}

TEST_F(EdgeConfigTest, LiveChangesArriveAsNewTables) {
  putRoute(makeRoute("a", "a.test"));
  startSource();
  ASSERT_TRUE(testing::waitUntil([&] { return received.lastRoutes("a.test", "a"); }, 10s));

  const uint64_t rev = putRoute(makeRoute("b", "b.test"));
  ASSERT_TRUE(testing::waitUntil([&] { return received.lastRoutes("b.test", "b"); }, 10s));
  EXPECT_EQ(received.last()->revision(), rev);

  ASSERT_TRUE(routes->remove("route.a").ok());
  ASSERT_TRUE(testing::waitUntil([&] { return received.last()->match("a.test", "/") == nullptr; }, 10s));
  EXPECT_TRUE(received.lastRoutes("b.test", "b"));

  ASSERT_TRUE(providers->put("provider.p2", kProviderJson).ok());
  ASSERT_TRUE(testing::waitUntil([&] { return received.last()->provider("p2") != nullptr; }, 10s));
  ASSERT_TRUE(providers->remove("provider.p2").ok());
  ASSERT_TRUE(testing::waitUntil([&] { return received.last()->provider("p2") == nullptr; }, 10s));
}

TEST_F(EdgeConfigTest, BurstsAreCoalesced) {
  startSource();
  ASSERT_TRUE(testing::waitUntil([&] { return received.size() == 1; }, 10s));
  // Each put is seen by the source before the next is made, so without
  // coalescing an idle builder would build one table per put.
  for (int i = 0; i < 100; ++i) {
    const uint64_t rev = putRoute(makeRoute("r" + std::to_string(i), "h" + std::to_string(i) + ".test"));
    ASSERT_TRUE(testing::waitUntil([&] { return source->stats().revision >= rev; }, 5s, 1ms));
  }
  ASSERT_TRUE(testing::waitUntil([&] { return received.last()->routeCount() == 100; }, 10s));
  const std::size_t tables = received.size() - 1;
  EXPECT_LT(tables, 25u) << "100 puts must not yield one table each";
  EXPECT_GE(tables, 1u);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(received.last()->match("h" + std::to_string(i) + ".test", "/")->route.id, "r" + std::to_string(i));
}

TEST_F(EdgeConfigTest, UnchangedRoutesAreSharedBetweenTablesAndAChangedOneIsNot) {
  putRoute(makeRoute("same", "same.test"));
  putRoute(makeRoute("changed", "changed.test", "http://v1:80"));
  startSource();
  ASSERT_TRUE(testing::waitUntil([&] { return received.lastRoutes("changed.test", "changed"); }, 10s));
  auto before = received.last();

  const uint64_t rev = putRoute(makeRoute("changed", "changed.test", "http://v2:80"));
  ASSERT_TRUE(testing::waitUntil([&] { return received.last()->revision() >= rev; }, 10s));
  auto after = received.last();
  ASSERT_NE(before, after);
  // A rebuild copies pointers to the routes that did not change, not the routes.
  EXPECT_EQ(&before->match("same.test", "/")->route, &after->match("same.test", "/")->route);
  EXPECT_NE(&before->match("changed.test", "/")->route, &after->match("changed.test", "/")->route);
  EXPECT_EQ(before->match("changed.test", "/")->upstreams.at(0).host, "v1") << "the old table is untouched";
  EXPECT_EQ(after->match("changed.test", "/")->upstreams.at(0).host, "v2");
  EXPECT_EQ(after->match("changed.test", "/")->route.revision, rev);
}

TEST_F(EdgeConfigTest, InvalidEntriesAreSkippedAndTheRestServed) {
  putRoute(makeRoute("good", "good.test", "http://v1:80"));
  ASSERT_TRUE(routes->put("route.notjson", "{not json").ok());
  auto unknownField = model::toJson(makeRoute("unknown", "unknown.test"));
  unknownField["surprise"] = true;
  ASSERT_TRUE(routes->put("route.unknown", unknownField.dump()).ok());
  putRoute(makeRoute("badupstream", "bad.test", "ftp://files"));
  ASSERT_TRUE(providers->put("provider.broken", "[1]").ok());

  startSource();
  ASSERT_TRUE(testing::waitUntil([&] { return received.size() >= 1; }, 10s));
  auto first = received.at(0);
  EXPECT_EQ(first->routeCount(), 1u);
  EXPECT_EQ(first->match("good.test", "/")->route.id, "good");
  EXPECT_EQ(first->match("unknown.test", "/"), nullptr);
  EXPECT_EQ(first->provider("broken"), nullptr);
  EXPECT_EQ(source->stats().entriesRejected, 4u);

  // A bad write over a good route keeps the good version serving.
  const uint64_t rev = routes->put("route.good", "{\"id\":\"good\"}").value();
  ASSERT_TRUE(testing::waitUntil([&] { return received.last()->revision() >= rev; }, 10s));
  ASSERT_TRUE(received.lastRoutes("good.test", "good"));
  EXPECT_EQ(received.last()->match("good.test", "/")->upstreams.at(0).host, "v1");
  EXPECT_EQ(source->stats().entriesRejected, 5u);
}

TEST_F(EdgeConfigTest, SurvivesANatsRestart) {
  putRoute(makeRoute("before", "before.test"));
  startSource();
  ASSERT_TRUE(testing::waitUntil([&] { return received.lastRoutes("before.test", "before"); }, 10s));

  nats.kill();
  nats.restart();
  ASSERT_TRUE(testing::waitUntil([&] { return routes->put("route.after", storedValue(makeRoute("after", "after.test"))).ok(); }, 15s));
  ASSERT_TRUE(testing::waitUntil([&] { return received.lastRoutes("after.test", "after"); }, 20s));
  EXPECT_TRUE(received.lastRoutes("before.test", "before"));
}

TEST_F(EdgeConfigTest, StartsWhileNatsIsDownOnTheLastKnownGoodTable) {
  testing::TempDir dataDir;
  LastKnownGood file(dataDir.path());
  ConfigSnapshot saved;
  saved.routes = {makeRoute("lkg", "lkg.test")};
  saved.revision = 1;
  ASSERT_TRUE(file.save(saved).ok());
  putRoute(makeRoute("fresh", "fresh.test"));
  // The edge's own connection, made while NATS was up: NatsConnection::connect()
  // blocks while no server answers (NATS.c's retry-on-failed-connect without a
  // connected callback), so "down from the very start" cannot be set up here.
  auto down = store::NatsConnection::connect({{nats.url()}, "edge-down", 2000ms});
  ASSERT_TRUE(down.ok());
  nats.kill();
  ASSERT_TRUE(testing::waitUntil([&] { return !down.value()->connected(); }, 10s));
  TableHolder holder;
  ASSERT_TRUE(restoreLastKnownGood(file, holder, "dash.example.com").ok());
  ASSERT_TRUE(holder.ready()) << "ready on the last-known-good table";
  NatsConfigSourceOptions options;
  options.systemHost = "dash.example.com";
  // Declared after `holder` and `file`, which its callback uses: stopped first.
  auto edge = std::make_unique<NatsConfigSource>(down.value(), SystemClock::instance(), options);
  ASSERT_TRUE(edge->start([&](std::shared_ptr<const RouteTable> t) { applyTable(std::move(t), holder, &file); }).ok());
  EXPECT_EQ(holder.current()->match("lkg.test", "/")->route.id, "lkg");
  // Keep NATS down until the source has failed to set up a watch at least once
  // (a JetStream request times out after the connection's 2 s), so the retry
  // path is what brings the fresh table in.
  ASSERT_TRUE(testing::waitUntil([&] { return edge->stats().watchFailures >= 1; }, 10s));
  EXPECT_FALSE(edge->stats().snapshotComplete);
  EXPECT_EQ(holder.current()->match("lkg.test", "/")->route.id, "lkg");

  nats.restart();
  ASSERT_TRUE(testing::waitUntil(
      [&] {
        const MatchedRoute* m = holder.current()->match("fresh.test", "/");
        return m != nullptr && m->route.id == "fresh";
      },
      20s));
  EXPECT_EQ(holder.current()->match("lkg.test", "/"), nullptr) << "NATS is the source of truth once back";
  // Saved right after the swap, on the source's thread.
  ASSERT_TRUE(testing::waitUntil(
      [&] {
        auto persisted = file.load();
        return persisted.ok() && persisted.value().routes.size() == 1 && persisted.value().routes[0].id == "fresh";
      },
      10s));
}

}  // namespace
}  // namespace proxyos::edge
