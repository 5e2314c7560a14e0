// Edge heartbeats against a real redis-server (no mocks): the edge's
// HeartbeatPublisher (TTL, prompt notify, delete on stop, recovery after a
// Redis restart), the registry's RedisEdgeDirectory (SCAN to the end, bad
// records skipped), and GET /api/routes/status of a real proxyos-route-registry.
#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "edge_directory.h"
#include "services/edge-proxy/heartbeat.h"
#include "shared/core/time_format.h"
#include "shared/core/url.h"
#include "shared/model/edge_heartbeat.h"
#include "shared/redis/redis_client.h"
#include "shared/session/service_token.h"
#include "shared/session/signing_keys.h"
#include "tests/support/http_client.h"
#include "tests/support/service_process.h"
#include "tests/support/session_fixture.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_servers.h"
#include "tests/support/wait.h"

namespace proxyos {
namespace {

using namespace std::chrono_literals;
using edge::HeartbeatPublisher;
using edge::HeartbeatState;
using model::EdgeHeartbeat;
using Stopwatch = std::chrono::steady_clock;

const std::string kSecret = "0123456789abcdef0123456789abcdef";

redis::ClientOptions optionsFor(const std::string& url) {
  auto endpoint = parseRedisUrl(url);
  EXPECT_TRUE(endpoint.ok()) << url;
  return {endpoint.value()};
}

/// Every log line at warn level or above, and every info line, as written.
class CapturingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  int count(spdlog::level::level_enum level, const std::string& text) {
    std::lock_guard lock(mutex_);
    int n = 0;
    for (const auto& [l, msg] : lines_)
      if (l == level && msg.find(text) != std::string::npos) ++n;
    return n;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    lines_.emplace_back(msg.level, std::string(msg.payload.data(), msg.payload.size()));
  }
  void flush_() override {}

 private:
  std::vector<std::pair<spdlog::level::level_enum, std::string>> lines_;
};

/// A publisher's state the test changes while it runs.
struct TestState {
  std::atomic<std::uint64_t> revision{1};
  std::atomic<std::uint64_t> routes{3};
  std::function<HeartbeatState()> fn() {
    return [this] { return HeartbeatState{revision.load(), routes.load()}; };
  }
};

class EdgeHeartbeatTest : public ::testing::Test {
 protected:
  void SetUp() override { redis.start(); }

  /// The stored heartbeat of `node`, or nullopt when absent (or unreadable).
  std::optional<EdgeHeartbeat> stored(const std::string& node) {
    auto r = observer().command({"GET", model::edgeHeartbeatKey(node)});
    if (!r || r.value().isNil()) return std::nullopt;
    auto parsed = model::parseEdgeHeartbeat(r.value().str);
    EXPECT_TRUE(parsed.ok()) << r.value().str;
    if (!parsed) return std::nullopt;
    return parsed.value();
  }

  long long pttl(const std::string& node) {
    auto r = observer().command({"PTTL", model::edgeHeartbeatKey(node)});
    EXPECT_TRUE(r.ok());
    return r ? r.value().integer : -100;
  }

  /// A client of its own, so the checks never share the publisher's connection.
  redis::Client& observer() {
    if (!observer_) observer_ = std::make_unique<redis::Client>(optionsFor(redis.url()));
    return *observer_;
  }

  testing::RedisServer redis;
  FakeClock clock;
  std::unique_ptr<redis::Client> observer_;
};

TEST_F(EdgeHeartbeatTest, WritesTheKeyWithTtlAndParseableJsonAndRenewsIt) {
  redis::Client client(optionsFor(redis.url()));
  TestState state;
  state.revision = 5;
  HeartbeatPublisher pub(client, clock, "edge-a", state.fn(), 100ms);
  pub.start();
  ASSERT_TRUE(testing::waitUntil([&] { return stored("edge-a").has_value(); }, 5s));
  const auto first = *stored("edge-a");
  EXPECT_EQ(first.node, "edge-a");
  EXPECT_EQ(first.revision, 5u);
  EXPECT_EQ(first.routes, 3u);
  EXPECT_EQ(first.startedAt, "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(first.lastSeen, first.startedAt);
  const long long ttl = pttl("edge-a");
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 15000);

  // Renewed every interval without notify(): lastSeen follows the clock and
  // startedAt stays.
  clock.advance(std::chrono::minutes(1));
  ASSERT_TRUE(testing::waitUntil(
      [&] {
        auto h = stored("edge-a");
        return h && h->lastSeen == "2026-01-01T00:01:00.000Z";
      },
      5s));
  EXPECT_EQ(stored("edge-a")->startedAt, "2026-01-01T00:00:00.000Z");
  EXPECT_TRUE(testing::waitUntil([&] { return pub.beatsWritten() >= 4; }, 5s));
  EXPECT_EQ(pub.beatsFailed(), 0u);
}

TEST_F(EdgeHeartbeatTest, NotifyPublishesTheNewRevisionLongBeforeTheInterval) {
  redis::Client client(optionsFor(redis.url()));
  TestState state;
  constexpr auto kInterval = 10s;
  HeartbeatPublisher pub(client, clock, "edge-a", state.fn(), kInterval);
  pub.start();
  ASSERT_TRUE(testing::waitUntil([&] { return stored("edge-a").has_value(); }, 5s));
  ASSERT_EQ(stored("edge-a")->revision, 1u);

  state.revision = 2;
  state.routes = 4;
  const auto t0 = Stopwatch::now();
  pub.notify();
  ASSERT_TRUE(testing::waitUntil(
      [&] {
        auto h = stored("edge-a");
        return h && h->revision == 2;
      },
      5s));
  const auto took = Stopwatch::now() - t0;
  EXPECT_LT(took, kInterval / 5) << "arrived by notify(), not by the next interval";
  EXPECT_EQ(stored("edge-a")->routes, 4u);
  // The counter moves just after the SET's reply, so wait for it too.
  EXPECT_TRUE(testing::waitUntil([&] { return pub.beatsWritten() >= 2; }, 5s));
  EXPECT_EQ(pub.beatsWritten(), 2u) << "the first beat and the notified one, no interval beat";
}

TEST_F(EdgeHeartbeatTest, NotifyBeforeStartAndBurstsAreHarmless) {
  redis::Client client(optionsFor(redis.url()));
  TestState state;
  HeartbeatPublisher pub(client, clock, "edge-a", state.fn(), 10s);
  pub.notify();  // the edge may swap a table before it starts the heartbeat
  pub.start();
  for (int i = 0; i < 100; ++i) pub.notify();
  state.revision = 9;
  pub.notify();
  ASSERT_TRUE(testing::waitUntil(
      [&] {
        auto h = stored("edge-a");
        return h && h->revision == 9;
      },
      5s));
  EXPECT_LE(pub.beatsWritten(), 4u) << "a burst of notifies is coalesced";
}

TEST_F(EdgeHeartbeatTest, StopDeletesTheKeyAndIsIdempotent) {
  redis::Client client(optionsFor(redis.url()));
  TestState state;
  HeartbeatPublisher pub(client, clock, "edge-a", state.fn(), 100ms);
  pub.start();
  ASSERT_TRUE(testing::waitUntil([&] { return stored("edge-a").has_value(); }, 5s));
  pub.stop();
  EXPECT_FALSE(stored("edge-a").has_value()) << "gone as soon as stop() returns";
  const auto written = pub.beatsWritten();
  pub.stop();
  pub.notify();  // after stop: nothing runs, nothing throws
  EXPECT_FALSE(stored("edge-a").has_value());
  EXPECT_EQ(pub.beatsWritten(), written);
}

TEST_F(EdgeHeartbeatTest, StopWithoutStartTouchesNothing) {
  ASSERT_TRUE(observer().command({"SET", model::edgeHeartbeatKey("edge-a"), "left by someone"}).ok());
  redis::Client client(optionsFor(redis.url()));
  TestState state;
  {
    HeartbeatPublisher pub(client, clock, "edge-a", state.fn(), 100ms);
    pub.stop();
  }
  EXPECT_EQ(client.commandsSent(), 0u);
}

TEST_F(EdgeHeartbeatTest, RecoversAfterRedisRestartWarningOncePerOutage) {
  auto sink = std::make_shared<CapturingSink>();
  // Restores the default logger however the test ends (after the publisher,
  // which logs through it, is gone: declared first, destroyed last).
  struct LoggerSwap {
    std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
    ~LoggerSwap() { spdlog::set_default_logger(previous); }
  } swap;
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  spdlog::set_level(spdlog::level::info);

  {
    redis::Client client(optionsFor(redis.url()));
    TestState state;
    HeartbeatPublisher pub(client, clock, "edge-a", state.fn(), 100ms);
    pub.start();
    ASSERT_TRUE(testing::waitUntil([&] { return stored("edge-a").has_value(); }, 5s));

    redis.stop();
    ASSERT_TRUE(testing::waitUntil([&] { return pub.beatsFailed() >= 5; }, 10s)) << pub.beatsFailed();
    EXPECT_EQ(sink->count(spdlog::level::warn, "cannot write proxyos:edge:edge-a"), 1);

    redis.start();  // same port, empty (nothing is persisted)
    observer_.reset();
    EXPECT_FALSE(stored("edge-a").has_value());
    ASSERT_TRUE(testing::waitUntil([&] { return stored("edge-a").has_value(); }, 5s));
    EXPECT_TRUE(testing::waitUntil(
        [&] { return sink->count(spdlog::level::info, "writing proxyos:edge:edge-a again") == 1; }, 5s));
    EXPECT_EQ(sink->count(spdlog::level::warn, "cannot write"), 1);
    const long long ttl = pttl("edge-a");
    EXPECT_GT(ttl, 0);
    EXPECT_LE(ttl, 15000);
  }
}

// ---------------------------------------------------------------------------
// The registry's side: RedisEdgeDirectory in process

TEST_F(EdgeHeartbeatTest, DirectoryFollowsTheScanCursorAndSkipsWhatItCannotUse) {
  constexpr int kEdges = 250;  // > COUNT 100: several SCAN round trips
  std::vector<std::vector<std::string>> writes;
  for (int i = 0; i < kEdges; ++i) {
    const EdgeHeartbeat h{"n" + std::to_string(i), static_cast<std::uint64_t>(i), "2026-01-01T00:00:00.000Z",
                          "2026-01-01T00:00:05.000Z", 1};
    writes.push_back({"SET", model::edgeHeartbeatKey(h.node), model::toJson(h).dump(), "EX", "15"});
  }
  // Unusable records: garbage, an unknown field, a record naming another node,
  // and a key of another type (MGET answers nil for it).
  writes.push_back({"SET", "proxyos:edge:garbage", "not json"});
  writes.push_back({"SET", "proxyos:edge:extra",
                    R"({"node":"extra","revision":1,"startedAt":"2026-01-01T00:00:00.000Z",)"
                    R"("lastSeen":"2026-01-01T00:00:05.000Z","routes":1,"pid":4})"});
  writes.push_back({"SET", "proxyos:edge:liar",
                    R"({"node":"n1","revision":1,"startedAt":"2026-01-01T00:00:00.000Z",)"
                    R"("lastSeen":"2026-01-01T00:00:05.000Z","routes":1})"});
  writes.push_back({"RPUSH", "proxyos:edge:list", "x"});
  writes.push_back({"SET", "proxyos:session:abc", "{}"});  // another prefix: not scanned
  ASSERT_TRUE(observer().pipelineAll(writes).ok());

  redis::Client client(optionsFor(redis.url()));
  registry::RedisEdgeDirectory directory(client);
  auto listed = directory.list();
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed.value().size(), static_cast<std::size_t>(kEdges));
  std::set<std::string> nodes;
  for (const auto& h : listed.value()) nodes.insert(h.node);
  EXPECT_EQ(nodes.size(), static_cast<std::size_t>(kEdges));
  EXPECT_TRUE(nodes.count("n0") && nodes.count("n249"));
  EXPECT_FALSE(nodes.count("extra") || nodes.count("liar") || nodes.count("garbage"));
}

TEST_F(EdgeHeartbeatTest, DirectoryReportsRedisDownAsUnavailable) {
  redis::Client client(optionsFor(redis.url()));
  registry::RedisEdgeDirectory directory(client);
  ASSERT_TRUE(directory.list().ok());
  redis.stop();
  auto listed = directory.list();
  ASSERT_FALSE(listed.ok());
  EXPECT_EQ(listed.error().kind, ErrorKind::Unavailable);
  EXPECT_EQ(listed.error().code, "redis_unavailable");
  EXPECT_NE(listed.error().message.find("Redis is unavailable"), std::string::npos) << listed.error().message;
}

// ---------------------------------------------------------------------------
// A real proxyos-route-registry process

class RouteStatusServiceTest : public EdgeHeartbeatTest {
 protected:
  void SetUp() override {
    EdgeHeartbeatTest::SetUp();
    nats.start();
    adminCookie = testing::issueSessionCookie(redis.url(), kSecret, session::Role::Admin, "admin");
    registry = testing::startService(std::string(PROXYOS_BIN_DIR) + "/proxyos-route-registry",
                                     {{"PROXYOS_SECRET", kSecret},
                                      {"PROXYOS_NATS_URL", nats.url()},
                                      {"PROXYOS_REDIS_URL", redis.url()},
                                      {"PROXYOS_AUTH_URL", "http://127.0.0.1:1"},
                                      {"PROXYOS_SSO_URL", "http://127.0.0.1:1"},
                                      {"PROXYOS_URL", "http://dash.test:8080"},
                                      {"PROXYOS_DATA_DIR", dir.path()},
                                      {"PROXYOS_LOG_FORMAT", "json"}},
                                     dir.path() + "/registry.log");
  }

  testing::HttpResult api(const std::string& method, const std::string& path, const std::string& body = "") {
    return testing::httpRequest(method, registry.base + path, body,
                                {{"Cookie", adminCookie}, {"Origin", "http://dash.test:8080"}});
  }

  testing::TempDir dir;
  testing::NatsServer nats;
  std::string adminCookie;
  testing::RunningService registry;
};

TEST_F(RouteStatusServiceTest, ListsLiveEdgesSortedWithInSyncAndDropsAStoppedOne) {
  // A route moves the config revision above 0, so an edge at 0 is behind.
  auto created = api("POST", "/api/routes", R"({"domains":["a.example.com"],"upstreams":["http://127.0.0.1:3000"]})");
  ASSERT_EQ(created.status, 201) << created.body;
  auto before = api("GET", "/api/routes/status");
  ASSERT_EQ(before.status, 200) << before.body;
  EXPECT_EQ(before.json()["edges"], nlohmann::json::array());
  const std::uint64_t revision = before.json()["revision"];
  ASSERT_GT(revision, 0u);

  redis::Client client(optionsFor(redis.url()));
  TestState a, b;
  a.revision = revision;
  b.revision = 0;
  b.routes = 0;
  // Started b first: the order of the list must not depend on who wrote first.
  HeartbeatPublisher pubB(client, clock, "edge-b", b.fn(), 100ms);
  HeartbeatPublisher pubA(client, clock, "edge-a", a.fn(), 100ms);
  pubB.start();
  pubA.start();

  testing::HttpResult status;
  ASSERT_TRUE(testing::waitUntil(
      [&] {
        status = api("GET", "/api/routes/status");
        return status.status == 200 && status.json()["edges"].size() == 2;
      },
      10s))
      << status.status << " " << status.body;
  const auto body = status.json();
  EXPECT_EQ(body["revision"], revision);
  const auto& edges = body["edges"];
  EXPECT_EQ(edges[0]["node"], "edge-a");
  EXPECT_EQ(edges[0]["revision"], revision);
  EXPECT_EQ(edges[0]["inSync"], true);
  EXPECT_EQ(edges[0]["routes"], 3);
  EXPECT_EQ(edges[0]["startedAt"], "2026-01-01T00:00:00.000Z");
  EXPECT_TRUE(edges[0]["lastSeen"].is_string());
  EXPECT_EQ(edges[1]["node"], "edge-b");
  EXPECT_EQ(edges[1]["revision"], 0);
  EXPECT_EQ(edges[1]["inSync"], false);
  std::vector<std::string> keys;
  for (const auto& [k, v] : edges[1].items()) keys.push_back(k);
  EXPECT_EQ(keys.size(), 6u) << edges[1].dump();

  pubB.stop();
  auto after = api("GET", "/api/routes/status");
  ASSERT_EQ(after.status, 200) << after.body;
  ASSERT_EQ(after.json()["edges"].size(), 1u) << after.body;
  EXPECT_EQ(after.json()["edges"][0]["node"], "edge-a");
}

TEST_F(RouteStatusServiceTest, RedisDownIs503NamingRedis) {
  // A service token is checked with the shared secret alone, so the guard
  // passes without Redis and the status read is what fails.
  const session::SigningKeys keys(kSecret, {});
  const std::string token = session::issueServiceToken(keys, "test", std::chrono::system_clock::now());
  auto ok = testing::httpRequest("GET", registry.base + "/api/routes/status", "",
                                 {{"Authorization", "Bearer " + token}});
  ASSERT_EQ(ok.status, 200) << ok.body;

  redis.stop();
  auto down = testing::httpRequest("GET", registry.base + "/api/routes/status", "",
                                   {{"Authorization", "Bearer " + token}});
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_EQ(down.errorCode(), "redis_unavailable") << down.body;
  EXPECT_NE(down.json()["error"]["message"].get<std::string>().find("Redis is unavailable"), std::string::npos)
      << down.body;
}

TEST_F(RouteStatusServiceTest, StillGuarded) {
  EXPECT_EQ(testing::httpRequest("GET", registry.base + "/api/routes/status").status, 401);
}

}  // namespace
}  // namespace proxyos
