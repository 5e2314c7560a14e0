// Issue #9, acceptance 2 and 3, with real processes on loopback and nothing
// mocked: a 3-node NATS JetStream cluster with R3 buckets, a Redis primary,
// its replica and a Sentinel, the four services (auth, route-registry,
// sso-provider, two edges) started with PROXYOS_NATS_URL listing every node,
// PROXYOS_NATS_REPLICAS=3, PROXYOS_REDIS_SENTINEL and PROXYOS_REDIS_MASTER.
//
// Client threads keep a steady load on a plain route through both edges
// (keep-alive connections and a new connection per request), counting every
// request that is not a 200 from the upstream, per edge and per phase. Then,
// one after the other and with the load running all along:
//   1. SIGKILL of a NATS node: the JetStream meta leader or the routes
//      stream's leader, whichever hosts an edge's watch consumer (the meta
//      leader first: no consumer can be recreated until a new one is
//      elected, while writes go on at once; the stream leader makes writes
//      wait for an election),
//   2. SIGKILL of the Redis primary (Sentinel promotes the replica),
//   3. SIGKILL of one edge.
// After each kill: zero failed requests at every surviving edge; a route
// created after the kill (POST retried until 2xx; writes may answer 503
// during an election) is served by every surviving edge within 5 s of the
// 2xx; the rollout ledger (GET /api/routes/status) shows every surviving
// edge at the current revision. A login made (and replicated) before the
// Redis failover is still accepted after it, at auth and through both edges.
// After the edge kill, the ledger drops the dead edge when its heartbeat's
// TTL runs out.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "shared/core/clock.h"
#include "shared/core/time_format.h"
#include "shared/model/edge_heartbeat.h"
#include "shared/redis/redis_client.h"
#include "shared/session/redis_session_store.h"
#include "tests/support/http_client.h"
#include "tests/support/loopback.h"
#include "tests/support/nats_cluster.h"
#include "tests/support/read_file.h"
#include "tests/support/redis_sentinel.h"
#include "tests/support/service_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_upstream.h"
#include "tests/support/wait.h"

namespace proxyos {
namespace {

using namespace std::chrono_literals;
using testing::httpRequest;
using testing::HttpResult;
using Steady = std::chrono::steady_clock;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

const std::string kBin = PROXYOS_BIN_DIR;
const std::string kSecret = "failover-0123456789abcdef0123456789abcdef";
const std::string kAdminPassword = "failover-admin-password-42";
// Not the default name, so that PROXYOS_REDIS_MASTER is shown to be read.
const std::string kMaster = "proxyos-failover";
const std::string kDashHost = "dash.failover.test";
const std::string kPlainHost = "plain.failover.test";  // the route under load
const std::string kSsoHost = "sso.failover.test";      // built-in SSO: sessions checked by the edges
const std::string kRoutesStream = "KV_proxyos-routes";
constexpr auto kPropagationBound = 5s;        // acceptance 2
constexpr auto kHeartbeatTtl = 15s;           // docs/architecture.md, "Edge heartbeats in Redis"
constexpr int kEdges = 2;
constexpr int kKilledEdge = 1;

double ms(Steady::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

enum Phase : int { kBaseline, kNatsKilled, kRedisKilled, kEdgeKilled, kPhaseCount };
const char* const kPhaseNames[kPhaseCount] = {"baseline", "nats-node-killed", "redis-primary-killed", "edge-killed"};

// ---------------------------------------------------------------------------
// The load: per edge, keep-alive threads and a new-connection thread, GET on
// the plain route, each request attributed to the phase it started in.

class Load {
 public:
  struct Tally {
    std::uint64_t ok = 0;
    std::uint64_t failed = 0;
    double maxLatencyMs = 0;
    std::vector<std::string> samples;  // the first few failures, for the message
  };

  Load(std::array<std::uint16_t, kEdges> ports, std::string host, std::string upstreamName)
      : ports_(ports), host_(std::move(host)), upstreamName_(std::move(upstreamName)) {}
  ~Load() { stop(); }
  Load(const Load&) = delete;
  Load& operator=(const Load&) = delete;

  void start(int keepAliveThreads, int freshThreads) {
    for (int e = 0; e < kEdges; ++e) {
      for (int i = 0; i < keepAliveThreads; ++i) threads_.emplace_back([this, e] { keepAliveLoop(e); });
      for (int i = 0; i < freshThreads; ++i) threads_.emplace_back([this, e] { freshLoop(e); });
    }
  }
  void stop() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
  }
  void setPhase(Phase p) { phase_ = p; }

  Tally tally(int edge, int phase) const {
    std::lock_guard lock(mu_);
    return tallies_[edge][phase];
  }

 private:
  static constexpr auto kPace = 10ms;  // between one thread's requests: a steady load, not a flood
  static constexpr std::chrono::seconds kRequestTimeout{5};

  void record(int edge, int phase, const std::string& failure, Steady::duration took) {
    std::lock_guard lock(mu_);
    auto& t = tallies_[edge][phase];
    t.maxLatencyMs = std::max(t.maxLatencyMs, ms(took));
    if (failure.empty()) {
      ++t.ok;
      return;
    }
    ++t.failed;
    if (t.samples.size() < 8) t.samples.push_back(failure);
  }

  std::string check(int status, const std::string& upstream) const {
    if (status == 200 && upstream == upstreamName_) return "";
    return "status " + std::to_string(status) + ", X-Upstream '" + upstream + "'";
  }

  void keepAliveLoop(int edge) {
    asio::io_context ioc;
    std::optional<tcp::socket> socket;
    beast::flat_buffer buffer;
    while (!stop_) {
      const int phase = phase_.load();
      const auto start = Steady::now();
      std::string failure;
      try {
        if (!socket) {
          socket.emplace(ioc);
          socket->connect({asio::ip::make_address("127.0.0.1"), ports_[edge]});
          timeval tv{kRequestTimeout.count(), 0};
          setsockopt(socket->native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
          setsockopt(socket->native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
          buffer.clear();
        }
        http::request<http::empty_body> req{http::verb::get, "/status/200", 11};
        req.set(http::field::host, host_);
        req.keep_alive(true);
        http::write(*socket, req);
        http::response<http::string_body> res;
        http::read(*socket, buffer, res);
        failure = check(static_cast<int>(res.result_int()), std::string(res["X-Upstream"]));
        if (!res.keep_alive()) socket.reset();
      } catch (const std::exception& ex) {
        failure = std::string("keep-alive connection: ") + ex.what();
        socket.reset();
      }
      if (!failure.empty()) failure = "[" + std::to_string(static_cast<long>(ms(Steady::now() - start))) + " ms] " + failure;
      record(edge, phase, failure, Steady::now() - start);
      std::this_thread::sleep_for(failure.empty() ? kPace : 100ms);  // pacing of the load
    }
  }

  void freshLoop(int edge) {
    const std::string url = "http://127.0.0.1:" + std::to_string(ports_[edge]) + "/status/200";
    while (!stop_) {
      const int phase = phase_.load();
      const auto start = Steady::now();
      const auto r = httpRequest("GET", url, "", {{"Host", host_}}, kRequestTimeout);
      std::string failure = r.status == 0 ? "new connection: " + r.error : check(r.status, r.header("x-upstream"));
      if (!failure.empty()) failure = "[" + std::to_string(static_cast<long>(ms(Steady::now() - start))) + " ms] " + failure;
      record(edge, phase, failure, Steady::now() - start);
      std::this_thread::sleep_for(failure.empty() ? kPace : 100ms);  // pacing of the load
    }
  }

  const std::array<std::uint16_t, kEdges> ports_;
  const std::string host_;
  const std::string upstreamName_;
  std::atomic<int> phase_{kBaseline};
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  Tally tallies_[kEdges][kPhaseCount];
  std::vector<std::thread> threads_;
};

// ---------------------------------------------------------------------------

/// A route POSTed until the registry answers 2xx.
struct Creation {
  bool ok = false;
  std::string id;
  Steady::time_point at;  // when the 2xx arrived
  int attempts = 0;
  std::map<int, int> statuses;  // every answer seen, by status (0: no answer)
  std::string lastError;
  bool foundAfterConflict = false;  // an attempt with an unknown outcome had gone through
};

/// What GET /api/routes/status says.
struct Ledger {
  int status = 0;
  std::uint64_t revision = 0;
  std::map<std::string, std::uint64_t> applied;  // node -> revision it applied
  std::map<std::string, bool> inSync;
  std::string body;
};

class FailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setUpStart = Steady::now();
    // Redis: a primary, its replica in sync, then the Sentinel (whose first
    // INFO of the primary then lists the replica).
    primary.start();
    replica = std::make_unique<testing::RedisNode>(primary.port());
    replica->start();
    ASSERT_TRUE(testing::waitUntil([&] { return testing::redisReplicasAt(primary.port()) == 1; }, 10s))
        << "replica never synced";
    sentinel = std::make_unique<testing::SentinelNode>(primary.port(), kMaster);
    sentinel->start();
    ASSERT_TRUE(testing::waitUntil([&] { return testing::sentinelKnowsAReplica(sentinel->port(), kMaster); }, 15s))
        << "Sentinel never saw the replica:\n" << sentinel->logTail();
    ASSERT_EQ(testing::sentinelNames(sentinel->port(), kMaster), primary.address());

    cluster.start();

    authPort = testing::freePort();
    registryPort = testing::freePort();
    ssoPort = testing::freePort();
    for (int e = 0; e < kEdges; ++e) {
      edgePort[e] = testing::freePort();
      edgeAdminPort[e] = testing::freePort();
    }
    auth = testing::startService(kBin + "/proxyos-auth", env("auth"), dir.path() + "/auth.log", authPort);
    registry = testing::startService(kBin + "/proxyos-route-registry", env("registry"), dir.path() + "/registry.log",
                                     registryPort);
    sso = testing::startService(kBin + "/proxyos-sso-provider", env("sso"), dir.path() + "/sso.log", ssoPort);
    for (int e = 0; e < kEdges; ++e) {
      auto vars = env("edge-" + std::to_string(e));
      vars["PROXYOS_NODE_ID"] = nodeId(e);
      vars["PROXYOS_EDGE_HTTP_LISTEN"] = "127.0.0.1:" + std::to_string(edgePort[e]);
      vars["PROXYOS_EDGE_HTTPS_LISTEN"] = "127.0.0.1:0";
      vars["PROXYOS_EDGE_THREADS"] = "2";
      vars["PROXYOS_EDGE_ACCESS_LOG"] = dir.path() + "/access-" + std::to_string(e) + ".log";
      edge[e] = testing::startService(kBin + "/proxyos-edge", vars, edgeLog(e), edgeAdminPort[e],
                                      "PROXYOS_EDGE_ADMIN_LISTEN");
    }
  }

  void TearDown() override {
    if (!HasFailure()) return;
    for (const std::string& log : {dir.path() + "/auth.log", dir.path() + "/registry.log", edgeLog(0), edgeLog(1)}) {
      const std::string text = testing::readFile(log);
      std::printf("---- %s (end)\n%s\n", log.c_str(), text.substr(text.size() > 6000 ? text.size() - 6000 : 0).c_str());
    }
  }

  std::map<std::string, std::string> env(const std::string& name) const {
    return {{"PROXYOS_SECRET", kSecret},
            {"PROXYOS_NATS_URL", cluster.urlList()},
            {"PROXYOS_NATS_REPLICAS", "3"},
            {"PROXYOS_REDIS_SENTINEL", sentinel->address()},
            {"PROXYOS_REDIS_MASTER", kMaster},
            {"PROXYOS_URL", dashOrigin()},
            {"PROXYOS_AUTH_URL", "http://127.0.0.1:" + std::to_string(authPort)},
            {"PROXYOS_REGISTRY_URL", "http://127.0.0.1:" + std::to_string(registryPort)},
            {"PROXYOS_SSO_URL", "http://127.0.0.1:" + std::to_string(ssoPort)},
            {"PROXYOS_ADMIN_USER", "admin"},
            {"PROXYOS_ADMIN_PASSWORD", kAdminPassword},
            {"PROXYOS_DATA_DIR", dir.path() + "/" + name},
            {"PROXYOS_LOG_FORMAT", "json"}};
  }

  static std::string nodeId(int e) { return "edge-" + std::to_string(e); }
  std::string edgeLog(int e) const { return dir.path() + "/edge-" + std::to_string(e) + ".log"; }
  std::string dashOrigin() const { return "http://" + kDashHost + ":" + std::to_string(edgePort[0]); }

  /// Logs in at auth; "proxyos_session=<value>" or "".
  std::string login() {
    const auto r = httpRequest("POST", auth.base + "/api/auth/login",
                               nlohmann::json{{"username", "admin"}, {"password", kAdminPassword}}.dump(),
                               {{"Host", kDashHost + ":" + std::to_string(edgePort[0])}});
    EXPECT_EQ(r.status, 200) << r.body;
    const std::string sc = r.header("set-cookie");
    return r.status == 200 ? sc.substr(0, sc.find(';')) : "";
  }

  /// A dashboard-style admin call: session cookie and Origin (CSRF).
  HttpResult api(const std::string& method, const std::string& url, const std::string& body = "") {
    return httpRequest(method, url, body, {{"Cookie", admin}, {"Origin", dashOrigin()}});
  }

  /// GET /api/auth/session at auth with `cookie`.
  HttpResult sessionAtAuth(const std::string& cookie) {
    return httpRequest("GET", auth.base + "/api/auth/session", "", {{"Cookie", cookie}}, 5s);
  }

  /// GET `target` for `host` through edge `e`, on a connection of its own.
  HttpResult viaEdge(int e, const std::string& host, const std::string& target = "/status/200",
                     std::map<std::string, std::string> headers = {}) {
    headers["Host"] = host;
    return httpRequest("GET", "http://127.0.0.1:" + std::to_string(edgePort[e]) + target, "", headers, 5s);
  }

  bool serves(int e, const std::string& host) {
    const auto r = viaEdge(e, host);
    return r.status == 200 && r.header("x-upstream") == upstream.name();
  }

  Creation createRoute(const nlohmann::json& route, const std::string& domain) {
    Creation c;
    const auto deadline = Steady::now() + 40s;
    while (Steady::now() < deadline) {
      ++c.attempts;
      const auto r = api("POST", registry.base + "/api/routes", route.dump());
      ++c.statuses[r.status];
      if (r.status >= 200 && r.status < 300) {
        c.ok = true;
        c.at = Steady::now();
        c.id = r.json()["id"].get<std::string>();
        return c;
      }
      c.lastError = r.status == 0 ? r.error : std::to_string(r.status) + " " + r.body;
      if (r.status == 409) {
        // A 503 after a timed-out write leaves its outcome unknown; if it went
        // through, the retry conflicts with it (docs/architecture.md). Counted
        // from now, and said so in the output.
        const auto q = api("GET", registry.base + "/api/routes?domain=" + domain);
        if (q.status == 200 && q.json()["routes"].size() == 1) {
          c.ok = true;
          c.foundAfterConflict = true;
          c.at = Steady::now();
          c.id = q.json()["routes"][0]["id"].get<std::string>();
          return c;
        }
      }
      std::this_thread::sleep_for(100ms);  // pacing of the retries
    }
    return c;
  }

  nlohmann::json plainRoute(const std::string& domain) const {
    return {{"name", domain}, {"domains", {domain}}, {"upstreams", {upstream.url()}}};
  }

  /// Creates a plain route after a kill and measures how long each edge in
  /// `edges` takes to serve it after the registry's 2xx. Returns the route's
  /// creation; fills `propagationMs` (-1: not served within 15 s).
  Creation createAndPropagate(const std::string& label, const std::string& domain, Steady::time_point killAt,
                              const std::vector<int>& edges, std::map<int, double>& propagationMs,
                              const char* since = "the kill") {
    const auto c = createRoute(plainRoute(domain), domain);
    std::string statuses;
    for (const auto& [status, n] : c.statuses) statuses += " " + std::to_string(status) + "x" + std::to_string(n);
    EXPECT_TRUE(c.ok) << label << ": no 2xx within 40 s; answers:" << statuses << "; last: " << c.lastError;
    if (!c.ok) return c;
    std::printf("[ %s ] route %s: 2xx %.0f ms after %s, %d attempt(s), answers:%s%s\n", label.c_str(),
                domain.c_str(), ms(c.at - killAt), since, c.attempts, statuses.c_str(),
                c.foundAfterConflict ? " (409 for an earlier attempt that went through; timed from the 409)" : "");
    std::set<int> pending(edges.begin(), edges.end());
    for (int e : edges) propagationMs[e] = -1;
    testing::waitUntil(
        [&] {
          for (auto it = pending.begin(); it != pending.end();) {
            if (serves(*it, domain)) {
              propagationMs[*it] = ms(Steady::now() - c.at);
              it = pending.erase(it);
            } else {
              ++it;
            }
          }
          return pending.empty();
        },
        15s, 10ms);
    for (int e : edges) {
      std::printf("[ %s ] route %s served by %s %.0f ms after the 2xx\n", label.c_str(), domain.c_str(),
                  nodeId(e).c_str(), propagationMs[e]);
      RecordProperty(label + "_propagation_ms_" + nodeId(e), static_cast<int>(propagationMs[e]));
      EXPECT_GE(propagationMs[e], 0) << label << ": " << nodeId(e) << " never served " << domain << " (15 s)";
      EXPECT_LE(propagationMs[e], ms(kPropagationBound)) << label << ": " << nodeId(e) << " served " << domain
                                                         << " only " << propagationMs[e] << " ms after the 2xx";
    }
    RecordProperty(label + "_route_2xx_after_kill_ms", static_cast<int>(ms(c.at - killAt)));
    return c;
  }

  Ledger ledger() {
    Ledger l;
    const auto r = api("GET", registry.base + "/api/routes/status");
    l.status = r.status;
    l.body = r.status == 0 ? r.error : r.body;
    if (r.status != 200) return l;
    const auto j = r.json();
    l.revision = j["revision"].get<std::uint64_t>();
    for (const auto& e : j["edges"]) {
      l.applied[e["node"].get<std::string>()] = e["revision"].get<std::uint64_t>();
      l.inSync[e["node"].get<std::string>()] = e["inSync"].get<bool>();
    }
    return l;
  }

  /// Waits until the ledger lists exactly `nodes`, each at the current
  /// revision; the time it took from `from`, or -1.
  /// `alsoListed`: nodes that may be listed too, at any revision.
  double waitLedgerInSync(const std::string& label, const std::set<std::string>& nodes, Steady::time_point from,
                          const char* fromWhat = "the route's 2xx", const std::set<std::string>& alsoListed = {}) {
    Ledger last;
    const bool ok = testing::waitUntil(
        [&] {
          last = ledger();
          if (last.status != 200) return false;
          for (const auto& [n, rev] : last.applied)
            if (!nodes.count(n) && !alsoListed.count(n)) return false;
          for (const auto& n : nodes)
            if (!last.applied.count(n) || last.applied[n] != last.revision || !last.inSync[n]) return false;
          return true;
        },
        10s, 50ms);
    EXPECT_TRUE(ok) << label << ": ledger not in sync within 10 s: " << last.status << " " << last.body;
    const double took = ok ? ms(Steady::now() - from) : -1;
    std::string listed;
    for (const auto& [n, rev] : last.applied) listed += " " + n + "@" + std::to_string(rev);
    std::printf("[ %s ] ledger: revision %llu, edges:%s, in sync %.0f ms after %s\n", label.c_str(),
                static_cast<unsigned long long>(last.revision), listed.c_str(), took, fromWhat);
    RecordProperty(label + "_ledger_in_sync_ms", static_cast<int>(took));
    return took;
  }

  /// Polls while the answer only says "Redis is not there (yet)" (503 or no
  /// answer); returns the first other answer, or the last one at the deadline.
  template <class Fn>
  HttpResult untilNotUnavailable(Fn fn, std::vector<int>& seen) {
    HttpResult r;
    testing::waitUntil(
        [&] {
          r = fn();
          seen.push_back(r.status);
          return r.status != 0 && r.status != 503;
        },
        10s, 50ms);
    return r;
  }

  bool replicaHas(const std::string& key) {
    redis::Client c(testing::directRedis(replica->port()));
    auto r = c.command({"EXISTS", key});
    return r && r.value().integer == 1;
  }

  Steady::time_point setUpStart;
  testing::TempDir dir;
  testing::RedisNode primary;
  std::unique_ptr<testing::RedisNode> replica;
  std::unique_ptr<testing::SentinelNode> sentinel;
  testing::NatsCluster cluster{3};
  testing::TestUpstream upstream{"U"};
  std::uint16_t authPort = 0, registryPort = 0, ssoPort = 0;
  std::array<std::uint16_t, kEdges> edgePort{}, edgeAdminPort{};
  testing::RunningService auth, registry, sso;
  std::array<testing::RunningService, kEdges> edge;
  std::string admin;
};

std::string joinStatuses(const std::vector<int>& seen) {
  std::map<int, int> count;
  for (int s : seen) ++count[s];
  std::string out;
  for (const auto& [s, n] : count) out += " " + std::to_string(s) + "x" + std::to_string(n);
  return out;
}

TEST_F(FailoverTest, NatsNodeRedisPrimaryAndAnEdgeDieUnderLoadWithoutAFailedRequest) {
  // --- Setup through the APIs: an admin session, the built-in provider, the
  // plain route under load and a built-in SSO route.
  admin = login();
  ASSERT_FALSE(admin.empty());
  const auto provider = api("POST", sso.base + "/api/sso-providers",
                            nlohmann::json{{"name", "ProxyOS"},
                                           {"type", "builtin"},
                                           {"forwardAuthUrl", auth.base + "/api/auth/verify"},
                                           {"authResponseHeaders", {"X-Auth-User", "X-Auth-Email", "X-Auth-Groups"}},
                                           {"groupsHeader", "X-Auth-Groups"}}
                                .dump());
  ASSERT_EQ(provider.status, 201) << provider.body;
  ASSERT_TRUE(createRoute(plainRoute(kPlainHost), kPlainHost).ok);
  auto ssoRoute = plainRoute(kSsoHost);
  ssoRoute["ssoEnabled"] = true;
  ssoRoute["ssoProviderId"] = provider.json()["id"];
  ASSERT_TRUE(createRoute(ssoRoute, kSsoHost).ok);
  for (int e = 0; e < kEdges; ++e) {
    ASSERT_TRUE(testing::waitUntil([&] { return serves(e, kPlainHost); }, 10s)) << nodeId(e);
    // No session: the edge's own 401 (a browser-less client).
    ASSERT_TRUE(testing::waitUntil([&] { return viaEdge(e, kSsoHost, "/headers").status == 401; }, 10s)) << nodeId(e);
  }
  waitLedgerInSync("setup", {nodeId(0), nodeId(1)}, Steady::now(), "both edges served the routes");
  std::printf("[ setup ] 3 NATS nodes, Redis primary + replica + Sentinel, 4 services, 2 edges ready in %.0f ms\n",
              ms(Steady::now() - setUpStart));

  // --- Load, and a baseline with nothing killed.
  Load load(edgePort, kPlainHost, upstream.name());
  load.start(/*keepAliveThreads=*/2, /*freshThreads=*/1);
  const auto loadProgressed = [&](Phase phase, std::uint64_t atLeast, const std::vector<int>& edges) {
    return testing::waitUntil(
        [&] {
          for (int e : edges)
            if (load.tally(e, phase).ok < atLeast) return false;
          return true;
        },
        20s);
  };
  ASSERT_TRUE(loadProgressed(kBaseline, 100, {0, 1})) << "the load does not get through";
  std::map<int, double> baselineMs;
  const auto baselineRoute =
      createAndPropagate("baseline", "baseline.failover.test", Steady::now(), {0, 1}, baselineMs, "the first POST");
  ASSERT_TRUE(baselineRoute.ok);
  waitLedgerInSync("baseline", {nodeId(0), nodeId(1)}, baselineRoute.at);

  // --- 1. A NATS node dies: the meta leader or the routes stream's leader,
  // whichever also hosts an edge's watch consumer (meta leader first: the
  // consumer cannot be recreated until a new meta leader is elected, while
  // writes go on at once). With neither hosting one, the meta leader.
  const auto streamLeader = cluster.streamLeader(kRoutesStream);
  const auto metaLeader = cluster.metaLeader();
  ASSERT_TRUE(streamLeader.has_value()) << "no leader for " << kRoutesStream;
  ASSERT_TRUE(metaLeader.has_value()) << "no JetStream meta leader";
  const auto consumers = cluster.consumerHosts(kRoutesStream);
  const auto hostsConsumer = [&](int node) {
    return std::any_of(consumers.begin(), consumers.end(), [&](const auto& c) { return c.second == node; });
  };
  const int natsVictim = hostsConsumer(*metaLeader) || !hostsConsumer(*streamLeader) ? *metaLeader : *streamLeader;
  std::string consumerList;
  int victimConsumers = 0;
  for (const auto& [name, node] : consumers) {
    consumerList += " " + name + "@node" + std::to_string(node);
    victimConsumers += node == natsVictim ? 1 : 0;
  }
  std::string roles;
  if (natsVictim == *metaLeader) roles += " JetStream meta leader,";
  if (natsVictim == *streamLeader) roles += " " + kRoutesStream + " stream leader,";
  std::printf("[ nats ] killing node %d:%s hosting %d of the edges' %zu watch consumers (%s )\n", natsVictim,
              roles.c_str(), victimConsumers, consumers.size(), consumerList.c_str());
  RecordProperty("nats_victim_is_meta_leader", natsVictim == *metaLeader ? 1 : 0);
  RecordProperty("nats_victim_is_stream_leader", natsVictim == *streamLeader ? 1 : 0);
  RecordProperty("nats_victim_watch_consumers", victimConsumers);
  load.setPhase(kNatsKilled);
  const auto natsKilledAt = Steady::now();
  cluster.kill(natsVictim);
  std::printf("[ nats ] killed at %s\n", formatTime(SystemClock::instance().now()).c_str());
  std::map<int, double> natsMs;
  const auto natsRoute = createAndPropagate("nats", "nats.failover.test", natsKilledAt, {0, 1}, natsMs);
  ASSERT_TRUE(natsRoute.ok);
  waitLedgerInSync("nats", {nodeId(0), nodeId(1)}, natsRoute.at);
  std::printf("[ nats ] new stream leader: node %d, meta leader: node %d\n",
              cluster.streamLeader(kRoutesStream).value_or(-1), cluster.metaLeader().value_or(-1));
  EXPECT_TRUE(loadProgressed(kNatsKilled, 200, {0, 1}));

  // --- 2. The Redis primary dies. First a login, confirmed on the replica.
  const std::string before = login();
  ASSERT_FALSE(before.empty());
  const auto who = sessionAtAuth(before);
  ASSERT_EQ(who.status, 200) << who.body;
  const std::string beforeId = who.json()["sessionId"].get<std::string>();
  const auto adminWho = sessionAtAuth(admin);
  ASSERT_EQ(adminWho.status, 200) << adminWho.body;
  const std::string adminId = adminWho.json()["sessionId"].get<std::string>();
  ASSERT_TRUE(testing::waitUntil(
      [&] {
        return replicaHas(session::RedisSessionStore::sessionKey(beforeId)) &&
               replicaHas(session::RedisSessionStore::sessionKey(adminId));
      },
      5s))
      << "the replica never got the sessions";
  // The SSO route works through both edges (with the admin's session: the
  // edges cache verdicts for 2 s, so `before` is first shown to them after
  // the failover, when they must look it up on the promoted replica).
  for (int e = 0; e < kEdges; ++e) {
    const auto r = viaEdge(e, kSsoHost, "/headers", {{"Cookie", admin}});
    ASSERT_EQ(r.status, 200) << nodeId(e) << ": " << r.body;
  }
  // A login right before the kill, not waited for: it may or may not be on
  // the replica (docs/architecture.md: logins are not confirmed). Counted.
  const std::string unconfirmed = login();
  ASSERT_FALSE(unconfirmed.empty());

  load.setPhase(kRedisKilled);
  const auto redisKilledAt = Steady::now();
  primary.kill();
  std::map<int, double> redisMs;
  const auto redisRoute = createAndPropagate("redis", "redis.failover.test", redisKilledAt, {0, 1}, redisMs);
  ASSERT_TRUE(redisRoute.ok);
  EXPECT_EQ(testing::sentinelNames(sentinel->port(), kMaster), replica->address());
  EXPECT_EQ(testing::redisRoleAt(replica->port()), "master");
  waitLedgerInSync("redis", {nodeId(0), nodeId(1)}, redisRoute.at);

  // The login made before the failover still works: at auth, and through
  // both edges (the built-in provider's check runs in the edge).
  std::vector<int> seen;
  const auto atAuth = untilNotUnavailable([&] { return sessionAtAuth(before); }, seen);
  EXPECT_EQ(atAuth.status, 200) << atAuth.body;
  if (atAuth.status == 200) {
    EXPECT_EQ(atAuth.json()["sessionId"], beforeId);
  }
  std::printf("[ redis ] login from before the failover at auth: %d (answers:%s)\n", atAuth.status,
              joinStatuses(seen).c_str());
  for (int e = 0; e < kEdges; ++e) {
    seen.clear();
    const auto r = untilNotUnavailable([&] { return viaEdge(e, kSsoHost, "/headers", {{"Cookie", before}}); }, seen);
    EXPECT_EQ(r.status, 200) << nodeId(e) << ": " << r.body;
    if (r.status == 200) {
      EXPECT_EQ(r.json()["headers"].value("x-auth-user", ""), "admin") << r.body;
    }
    std::printf("[ redis ] login from before the failover through %s: %d (answers:%s)\n", nodeId(e).c_str(),
                r.status, joinStatuses(seen).c_str());
  }
  seen.clear();
  const auto late = untilNotUnavailable([&] { return sessionAtAuth(unconfirmed); }, seen);
  const int lostLogins = late.status == 200 ? 0 : 1;
  std::printf("[ redis ] login made just before the kill, not confirmed by the replica: %s (%d)\n",
              lostLogins ? "LOST, as documented for unconfirmed writes" : "survived", late.status);
  RecordProperty("unconfirmed_logins_lost", lostLogins);
  EXPECT_TRUE(late.status == 200 || late.status == 401) << late.status << " " << late.body;
  EXPECT_TRUE(loadProgressed(kRedisKilled, 200, {0, 1}));

  // --- 3. An edge dies. Its heartbeat stays until its TTL runs out.
  load.setPhase(kEdgeKilled);
  const auto edgeKilledAt = Steady::now();
  edge[kKilledEdge].process.kill();
  long long ttlMs = -1;
  {
    redis::Client onPrimary(testing::directRedis(replica->port()));  // the promoted replica
    auto pttl = onPrimary.command({"PTTL", model::edgeHeartbeatKey(nodeId(kKilledEdge))});
    ASSERT_TRUE(pttl.ok()) << pttl.error().message;
    ttlMs = pttl.value().integer;
  }
  const double ttlReadAfterMs = ms(Steady::now() - edgeKilledAt);
  std::printf("[ edge ] killed %s; its heartbeat key had %lld ms to live\n", nodeId(kKilledEdge).c_str(), ttlMs);
  ASSERT_GT(ttlMs, 0) << "the killed edge's heartbeat is already gone";
  const auto stillListed = ledger();
  EXPECT_EQ(stillListed.applied.count(nodeId(kKilledEdge)), 1u) << "dropped before its TTL: " << stillListed.body;

  std::map<int, double> edgeMs;
  const auto lastRoute = createAndPropagate("edge", "edge.failover.test", edgeKilledAt, {0}, edgeMs);
  ASSERT_TRUE(lastRoute.ok);
  // The survivor is at the new revision; the dead edge, while still listed,
  // is shown behind it.
  waitLedgerInSync("edge", {nodeId(0)}, lastRoute.at, "the route's 2xx", {nodeId(kKilledEdge)});
  const auto behind = ledger();
  ASSERT_EQ(behind.status, 200) << behind.body;
  if (behind.applied.count(nodeId(kKilledEdge))) {
    EXPECT_FALSE(behind.inSync.at(nodeId(kKilledEdge))) << behind.body;
    EXPECT_LT(behind.applied.at(nodeId(kKilledEdge)), behind.revision) << behind.body;
  }
  // The ledger: the dead edge drops out when its key expires; the survivor
  // is at the current revision.
  Ledger last;
  std::optional<double> goneAfterMs;
  testing::waitUntil(
      [&] {
        last = ledger();
        if (last.status == 200 && !last.applied.count(nodeId(kKilledEdge))) goneAfterMs = ms(Steady::now() - edgeKilledAt);
        return goneAfterMs.has_value();
      },
      kHeartbeatTtl + 10s, 50ms);
  ASSERT_TRUE(goneAfterMs.has_value()) << "the killed edge is still listed: " << last.body;
  std::printf("[ edge ] ledger dropped %s %.0f ms after the kill (its key had %lld ms left, read %.0f ms after the "
              "kill; TTL %lld s)\n",
              nodeId(kKilledEdge).c_str(), *goneAfterMs, ttlMs, ttlReadAfterMs,
              static_cast<long long>(kHeartbeatTtl.count()));
  RecordProperty("edge_dropped_from_ledger_ms", static_cast<int>(*goneAfterMs));
  // Not before the TTL ran out, and not long after it (the SCAN is polled every 50 ms).
  EXPECT_GE(*goneAfterMs, static_cast<double>(ttlMs) - 100);
  EXPECT_LE(*goneAfterMs, ttlReadAfterMs + static_cast<double>(ttlMs) + 1500);
  EXPECT_LE(*goneAfterMs, ms(kHeartbeatTtl) + 1500);
  waitLedgerInSync("edge", {nodeId(0)}, edgeKilledAt, "the kill, once the dead edge had dropped out");
  EXPECT_TRUE(loadProgressed(kEdgeKilled, 200, {0}));
  load.stop();

  // --- The load's numbers: zero failures at every surviving edge, every phase.
  std::printf("[ load ] %-22s %-7s %9s %7s %12s\n", "phase", "edge", "requests", "failed", "max latency");
  for (int p = 0; p < kPhaseCount; ++p)
    for (int e = 0; e < kEdges; ++e) {
      const auto t = load.tally(e, p);
      const bool survivor = !(p == kEdgeKilled && e == kKilledEdge);
      std::printf("[ load ] %-22s %-7s %9llu %7llu %9.1f ms%s\n", kPhaseNames[p], nodeId(e).c_str(),
                  static_cast<unsigned long long>(t.ok + t.failed), static_cast<unsigned long long>(t.failed),
                  t.maxLatencyMs, survivor ? "" : "  (the killed edge: its failures show the count works)");
      RecordProperty(std::string(kPhaseNames[p]) + "_" + nodeId(e) + "_requests", static_cast<int>(t.ok + t.failed));
      RecordProperty(std::string(kPhaseNames[p]) + "_" + nodeId(e) + "_failed", static_cast<int>(t.failed));
      if (!survivor) {
        // The load kept hitting the dead edge: what it counted there shows
        // that a failure is seen when there is one.
        EXPECT_GT(t.failed, 0u) << "requests to the killed edge were not counted as failures";
        if (!t.samples.empty()) std::printf("[ load ]   e.g. %s\n", t.samples.front().c_str());
        continue;
      }
      std::string samples;
      for (const auto& s : t.samples) samples += "\n  " + s;
      EXPECT_EQ(t.failed, 0u) << kPhaseNames[p] << " at " << nodeId(e) << ":" << samples;
      EXPECT_GT(t.ok, 0u) << kPhaseNames[p] << " at " << nodeId(e);
    }
  // What the edges' watches of the routes bucket went through (their logs).
  for (int e = 0; e < kEdges; ++e) {
    std::istringstream lines(testing::readFile(edgeLog(e)));
    for (std::string line; std::getline(lines, line);) {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      const std::string msg = j.is_object() && j.contains("msg") && j["msg"].is_string() ? j["msg"].get<std::string>() : line;
      const std::string time = j.is_object() && j.contains("time") && j["time"].is_string() ? j["time"].get<std::string>() : "";
      if (msg.find("proxyos-routes") != std::string::npos && msg.find("watch") != std::string::npos)
        std::printf("[ watch ] %s %s: %s\n", time.c_str(), nodeId(e).c_str(), msg.c_str());
    }
  }

  std::printf("[ total ] %.0f ms, set-up included\n", ms(Steady::now() - setUpStart));
}

}  // namespace
}  // namespace proxyos
