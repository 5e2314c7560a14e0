// Issue #9, acceptance 2 and 3, with real processes on loopback and nothing
// mocked: a 3-node NATS JetStream cluster with R3 buckets, a Redis primary,
// its replica and a Sentinel, the four services (auth, route-registry,
// sso-provider, two edges) started with PROXYOS_NATS_URL listing every node,
// PROXYOS_NATS_REPLICAS=3, PROXYOS_REDIS_SENTINEL and PROXYOS_REDIS_MASTER.
//
// Two steady loads through both edges (keep-alive connections and a new
// connection per request), each counting every request that is not a 200
// from the upstream, per edge and per phase:
//   - a plain route, which needs neither Redis nor NATS per request;
//   - a built-in SSO route with a logged-in session's cookie (made at the
//     start, confirmed on the replica with WAIT before the Redis kill): the
//     edge checks the session in Redis (verdicts cached 2 s), and the
//     upstream must get X-Auth-User.
// Then, one after the other and with the loads running all along:
//   1. SIGKILL of a NATS node that an edge's NATS connection is on (found in
//      the nodes' /connz by the connection's name), preferring the
//      JetStream meta leader, then the routes stream's leader, then a node
//      hosting an edge's watch consumer,
//   2. SIGKILL of the Redis primary (Sentinel promotes the replica),
//   3. SIGKILL of one edge.
// After each kill: zero failed requests of either load at every surviving
// edge; a route created after the kill (POST retried until 2xx) is served by
// every surviving edge within 5 s of the 2xx, the edges that were connected
// to the killed NATS node included; every answer to those POSTs other than
// the 2xx is the registry's 503 with a JSON error body (the documented 409
// for a write whose 503 left its outcome unknown aside), and none takes much
// longer than the registry's ~10 s retry budget; each surviving edge reports
// its config age in /status and /metrics, below 5 s once the route has
// propagated; the rollout ledger (GET /api/routes/status) shows every
// surviving edge at the current revision. A login made (and replicated)
// before the Redis failover is still accepted after it, at auth and through
// both edges. After the edge kill, the ledger drops the dead edge when its
// heartbeat's TTL runs out.
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
// A registry write retries through a NATS leader election for this long
// (shared/store/retry_policy.h, RetryPolicy::budget), then answers 503; its
// last attempt may add one NATS request timeout (registry_app.cpp: 2 s).
constexpr auto kRegistryRetryBudget = 10s;
constexpr auto kNatsRequestTimeout = 2s;
// Hang check of a single POST: the budget, a request timeout and a generous
// margin. The client waits longer, so that a hang shows as a duration.
constexpr auto kPostHangBound = kRegistryRetryBudget + kNatsRequestTimeout + 10s;
constexpr auto kPostClientTimeout = 60s;
constexpr double kConfigAgeBound = 5.0;       // seconds; the watch recovers within 5 s (issue #9)
constexpr int kEdges = 2;
constexpr int kKilledEdge = 1;

double ms(Steady::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

enum Phase : int { kBaseline, kNatsKilled, kRedisKilled, kEdgeKilled, kPhaseCount };
const char* const kPhaseNames[kPhaseCount] = {"baseline", "nats-node-killed", "redis-primary-killed", "edge-killed"};

// ---------------------------------------------------------------------------
// A load: per edge, keep-alive threads and new-connection threads, GET on one
// route, each request attributed to the phase it started in.

/// What one load requests, and what counts as a success.
struct LoadSpec {
  std::string name;          // "plain", "sso": for the output
  std::string host;
  std::string target;        // "/status/200", "/headers"
  std::string cookie;        // "" or "proxyos_session=<value>"
  std::string expectedUser;  // "": any 200 from the upstream; else the X-Auth-User the upstream must receive
};

class Load {
 public:
  struct Tally {
    std::uint64_t ok = 0;
    std::uint64_t failed = 0;
    double maxLatencyMs = 0;
    double firstFailureMs = -1;  // since the phase began (the kill), by the request's start
    double lastFailureMs = -1;
    std::map<std::string, int> kinds;  // failures by kind ("status 503", "connection error")
    std::vector<std::string> samples;  // the first few failures, for the message
  };

  Load(std::array<std::uint16_t, kEdges> ports, LoadSpec spec, std::string upstreamName)
      : ports_(ports), spec_(std::move(spec)), upstreamName_(std::move(upstreamName)) {
    phaseStart_.fill(Steady::now());
  }
  ~Load() { stop(); }
  Load(const Load&) = delete;
  Load& operator=(const Load&) = delete;

  const LoadSpec& spec() const { return spec_; }

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
  void setPhase(Phase p) {
    {
      std::lock_guard lock(mu_);
      phaseStart_[p] = Steady::now();
    }
    phase_ = p;
  }

  Tally tally(int edge, int phase) const {
    std::lock_guard lock(mu_);
    return tallies_[edge][phase];
  }

 private:
  static constexpr auto kPace = 10ms;  // between one thread's requests: a steady load, not a flood
  static constexpr std::chrono::seconds kRequestTimeout{5};

  void record(int edge, int phase, const std::string& kind, const std::string& failure, Steady::time_point start) {
    const auto took = Steady::now() - start;
    std::lock_guard lock(mu_);
    auto& t = tallies_[edge][phase];
    t.maxLatencyMs = std::max(t.maxLatencyMs, ms(took));
    if (failure.empty()) {
      ++t.ok;
      return;
    }
    ++t.failed;
    ++t.kinds[kind];
    const double at = ms(start - phaseStart_[phase]);
    if (t.firstFailureMs < 0) t.firstFailureMs = at;
    t.lastFailureMs = std::max(t.lastFailureMs, at);
    if (t.samples.size() < 8)
      t.samples.push_back("[+" + std::to_string(static_cast<long>(at)) + " ms into the phase, took " +
                          std::to_string(static_cast<long>(ms(took))) + " ms] " + failure);
  }

  /// "" when the answer is a success; else what was wrong.
  std::string check(int status, const std::string& upstream, const std::string& body) const {
    if (status != 200 || upstream != upstreamName_) {
      std::string out = "status " + std::to_string(status) + ", X-Upstream '" + upstream + "'";
      if (status != 200 && !body.empty()) {
        // An error page: its message paragraph, on one line.
        std::string text = body.substr(body.find("<p>") == std::string::npos ? 0 : body.find("<p>"), 120);
        std::replace(text.begin(), text.end(), '\n', ' ');
        out += ", body: " + text;
      }
      return out;
    }
    if (spec_.expectedUser.empty()) return "";
    const auto j = nlohmann::json::parse(body, nullptr, false);
    const std::string user = j.is_object() && j.contains("headers") && j["headers"].is_object()
                                 ? j["headers"].value("x-auth-user", "")
                                 : "";
    return user == spec_.expectedUser ? "" : "200, but the upstream got X-Auth-User '" + user + "'";
  }
  static std::string kindOf(int status) {
    return status == 0 ? "connection error" : status == 200 ? "200 (wrong answer)" : "status " + std::to_string(status);
  }

  void keepAliveLoop(int edge) {
    asio::io_context ioc;
    std::optional<tcp::socket> socket;
    beast::flat_buffer buffer;
    while (!stop_) {
      const int phase = phase_.load();
      const auto start = Steady::now();
      std::string failure, kind;
      try {
        if (!socket) {
          socket.emplace(ioc);
          socket->connect({asio::ip::make_address("127.0.0.1"), ports_[edge]});
          timeval tv{kRequestTimeout.count(), 0};
          setsockopt(socket->native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
          setsockopt(socket->native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
          buffer.clear();
        }
        http::request<http::empty_body> req{http::verb::get, spec_.target, 11};
        req.set(http::field::host, spec_.host);
        if (!spec_.cookie.empty()) req.set(http::field::cookie, spec_.cookie);
        req.keep_alive(true);
        http::write(*socket, req);
        http::response<http::string_body> res;
        http::read(*socket, buffer, res);
        const int status = static_cast<int>(res.result_int());
        failure = check(status, std::string(res["X-Upstream"]), res.body());
        kind = kindOf(status);
        if (!res.keep_alive()) socket.reset();
      } catch (const std::exception& ex) {
        failure = std::string("keep-alive connection: ") + ex.what();
        kind = kindOf(0);
        socket.reset();
      }
      record(edge, phase, kind, failure, start);
      std::this_thread::sleep_for(failure.empty() ? kPace : 100ms);  // pacing of the load
    }
  }

  void freshLoop(int edge) {
    const std::string url = "http://127.0.0.1:" + std::to_string(ports_[edge]) + spec_.target;
    std::map<std::string, std::string> headers{{"Host", spec_.host}};
    if (!spec_.cookie.empty()) headers["Cookie"] = spec_.cookie;
    while (!stop_) {
      const int phase = phase_.load();
      const auto start = Steady::now();
      const auto r = httpRequest("GET", url, "", headers, kRequestTimeout);
      const std::string failure = r.status == 0 ? "new connection: " + r.error : check(r.status, r.header("x-upstream"), r.body);
      record(edge, phase, kindOf(r.status), failure, start);
      std::this_thread::sleep_for(failure.empty() ? kPace : 100ms);  // pacing of the load
    }
  }

  const std::array<std::uint16_t, kEdges> ports_;
  const LoadSpec spec_;
  const std::string upstreamName_;
  std::atomic<int> phase_{kBaseline};
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::array<Steady::time_point, kPhaseCount> phaseStart_;
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
  std::map<std::string, int> unavailableCodes;  // the 503s' error.code, counted
  int unexpected = 0;  // answers other than 2xx, a 503 with a JSON error, or its documented 409
  std::vector<std::string> unexpectedSamples;  // the first few of them
  double longestAttemptMs = 0;  // the slowest single POST
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

  static void noteUnexpected(Creation& c, std::string answer) {
    if (c.unexpected++ < 5) c.unexpectedSamples.push_back(std::move(answer));
  }

  /// POSTs `route` until the registry answers 2xx (40 s at most). Every
  /// other answer must be the registry's 503 with a JSON error body: what a
  /// write answers once its own retries through a NATS leader election
  /// (~10 s) are spent, or what any call answers while the session store
  /// (Redis) fails over. The one exception is documented: a 503 for a write
  /// that timed out leaves its outcome unknown, and if it was stored the
  /// retry gets 409 domain_conflict for it (found by domain, and counted
  /// from then). No single POST may take much longer than that retry budget
  /// (a hang check, not a timing goal).
  Creation createRoute(const nlohmann::json& route, const std::string& domain) {
    Creation c;
    const auto deadline = Steady::now() + 40s;
    bool outcomeUnknown = false;  // a previous attempt answered 503: it may have been stored
    while (Steady::now() < deadline) {
      ++c.attempts;
      const auto sent = Steady::now();
      const auto r = httpRequest("POST", registry.base + "/api/routes", route.dump(),
                                 {{"Cookie", admin}, {"Origin", dashOrigin()}}, kPostClientTimeout);
      const double took = ms(Steady::now() - sent);
      c.longestAttemptMs = std::max(c.longestAttemptMs, took);
      ++c.statuses[r.status];
      if (r.status >= 200 && r.status < 300) {
        c.ok = true;
        c.at = Steady::now();
        c.id = r.json()["id"].get<std::string>();
        break;
      }
      c.lastError = r.status == 0 ? r.error : std::to_string(r.status) + " " + r.body;
      const std::string code = r.errorCode();
      const std::string answer = "attempt " + std::to_string(c.attempts) + " (" + std::to_string(static_cast<long>(took)) +
                                 " ms): " + (r.status == 0 ? "no answer: " + r.error : std::to_string(r.status) + " " + r.body);
      if (r.status == 503) {
        if (code.empty()) noteUnexpected(c, answer + " (503 without a JSON error body)");
        ++c.unavailableCodes[code.empty() ? "(no code)" : code];
        outcomeUnknown = true;
      } else if (r.status == 409 && outcomeUnknown && code == "domain_conflict") {
        // A 503 after a timed-out write leaves its outcome unknown; if it went
        // through, the retry conflicts with it (docs/architecture.md). Counted
        // from now, and said so in the output.
        const auto q = api("GET", registry.base + "/api/routes?domain=" + domain);
        if (q.status == 200 && q.json()["routes"].size() == 1) {
          c.ok = true;
          c.foundAfterConflict = true;
          c.at = Steady::now();
          c.id = q.json()["routes"][0]["id"].get<std::string>();
          break;
        }
        noteUnexpected(c, answer + " (409, but no route has the domain: " + std::to_string(q.status) + " " +
                               q.body + ")");
      } else {
        noteUnexpected(c, answer);
      }
      std::this_thread::sleep_for(100ms);  // pacing of the retries
    }
    std::string unexpected;
    for (const auto& u : c.unexpectedSamples) unexpected += "\n  " + u;
    EXPECT_EQ(c.unexpected, 0) << domain << ": answers other than 2xx or the registry's 503 (JSON error), e.g.:"
                               << unexpected;
    EXPECT_LE(c.longestAttemptMs, ms(kPostHangBound))
        << domain << ": a POST took " << c.longestAttemptMs << " ms, far beyond the registry's retry budget of "
        << ms(kRegistryRetryBudget) << " ms";
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
    std::string codes;
    for (const auto& [code, n] : c.unavailableCodes) codes += " " + code + "x" + std::to_string(n);
    std::printf("[ %s ] route %s: 2xx %.0f ms after %s, %d attempt(s), answers:%s%s; 503 codes:%s; slowest POST "
                "%.0f ms\n",
                label.c_str(), domain.c_str(), ms(c.at - killAt), since, c.attempts, statuses.c_str(),
                c.foundAfterConflict ? " (409 for an earlier attempt that went through; timed from the 409)" : "",
                codes.empty() ? " none" : codes.c_str(), c.longestAttemptMs);
    RecordProperty(label + "_route_503s", c.statuses.count(503) ? c.statuses.at(503) : 0);
    RecordProperty(label + "_route_slowest_post_ms", static_cast<int>(c.longestAttemptMs));
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

  /// What edge `e`'s admin listener says about how old its config is.
  struct ConfigAge {
    std::optional<double> status;  // /status config.ageSeconds
    std::optional<double> metric;  // /metrics proxyos_edge_config_age_seconds
    std::string source;            // /status config.source
    bool natsConnected = false;    // /status config.natsConnected
    std::string problem;           // why a value is missing
  };
  ConfigAge configAge(int e) {
    ConfigAge a;
    const auto st = httpRequest("GET", edge[e].base + "/status", "", {}, 5s);
    const auto j = nlohmann::json::parse(st.body, nullptr, false);
    if (st.status == 200 && j.is_object() && j.contains("config") && j["config"].is_object()) {
      const auto& c = j["config"];
      if (c.contains("ageSeconds") && c["ageSeconds"].is_number()) a.status = c["ageSeconds"].get<double>();
      a.source = c.value("source", "");
      a.natsConnected = c.value("natsConnected", false);
    }
    if (!a.status) a.problem += "/status: " + std::to_string(st.status) + " " + st.body.substr(0, 300) + "; ";
    const auto metrics = httpRequest("GET", edge[e].base + "/metrics", "", {}, 5s);
    std::istringstream lines(metrics.body);
    for (std::string line; std::getline(lines, line);) {
      // proxyos_edge_config_age_seconds{service="edge"} 0.42 (labels optional)
      const std::string name = "proxyos_edge_config_age_seconds";
      if (line.rfind(name, 0) != 0 || (line[name.size()] != ' ' && line[name.size()] != '{')) continue;
      a.metric = std::stod(line.substr(line.rfind(' ') + 1));
    }
    if (!a.metric) a.problem += "/metrics: " + std::to_string(metrics.status) + ", no proxyos_edge_config_age_seconds";
    return a;
  }

  /// After a phase's route has propagated: every edge in `edges` reports its
  /// config age, in /status and in /metrics, and it is below 5 s (its watches
  /// of both buckets hear from NATS again).
  void checkConfigAge(const std::string& label, const std::vector<int>& edges) {
    for (int e : edges) {
      const auto a = configAge(e);
      std::printf("[ %s ] %s config age: /status %.1f s, /metrics %.3f s (source %s, natsConnected %s)\n",
                  label.c_str(), nodeId(e).c_str(), a.status.value_or(-1), a.metric.value_or(-1), a.source.c_str(),
                  a.natsConnected ? "true" : "false");
      RecordProperty(label + "_config_age_ms_" + nodeId(e), static_cast<int>(a.metric.value_or(-1) * 1000));
      EXPECT_TRUE(a.status.has_value() && a.metric.has_value()) << label << ": " << nodeId(e) << ": " << a.problem;
      EXPECT_LT(a.status.value_or(1e9), kConfigAgeBound) << label << ": " << nodeId(e) << " /status ageSeconds";
      EXPECT_LT(a.metric.value_or(1e9), kConfigAgeBound) << label << ": " << nodeId(e) << " proxyos_edge_config_age_seconds";
      EXPECT_EQ(a.source, "nats") << label << ": " << nodeId(e);
    }
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
  // The session the SSO load sends: made now, confirmed on the replica
  // before the Redis primary dies (below).
  const std::string loadSession = login();
  ASSERT_FALSE(loadSession.empty());
  const auto loadWho = sessionAtAuth(loadSession);
  ASSERT_EQ(loadWho.status, 200) << loadWho.body;
  const std::string loadSessionId = loadWho.json()["sessionId"].get<std::string>();
  for (int e = 0; e < kEdges; ++e) {
    const auto r = viaEdge(e, kSsoHost, "/headers", {{"Cookie", loadSession}});
    ASSERT_EQ(r.status, 200) << nodeId(e) << ": " << r.body;
  }
  waitLedgerInSync("setup", {nodeId(0), nodeId(1)}, Steady::now(), "both edges served the routes");
  std::printf("[ setup ] 3 NATS nodes, Redis primary + replica + Sentinel, 4 services, 2 edges ready in %.0f ms\n",
              ms(Steady::now() - setUpStart));

  // --- The loads, and a baseline with nothing killed. The plain route needs
  // neither Redis nor NATS per request; the SSO route has the edge check the
  // session in Redis (a verdict is cached 2 s, so each edge looks it up
  // again at least every 2 s, all through the Redis failover).
  Load load(edgePort, {"plain", kPlainHost, "/status/200", "", ""}, upstream.name());
  Load ssoLoad(edgePort, {"sso", kSsoHost, "/headers", loadSession, "admin"}, upstream.name());
  load.start(/*keepAliveThreads=*/2, /*freshThreads=*/1);
  ssoLoad.start(/*keepAliveThreads=*/1, /*freshThreads=*/1);
  const auto setPhase = [&](Phase p) {
    load.setPhase(p);
    ssoLoad.setPhase(p);
  };
  const auto loadProgressed = [&](Phase phase, std::uint64_t atLeast, const std::vector<int>& edges) {
    return testing::waitUntil(
        [&] {
          for (int e : edges)
            if (load.tally(e, phase).ok < atLeast || ssoLoad.tally(e, phase).ok < atLeast / 2) return false;
          return true;
        },
        20s);
  };
  ASSERT_TRUE(loadProgressed(kBaseline, 100, {0, 1})) << "the loads do not get through";
  std::map<int, double> baselineMs;
  const auto baselineRoute =
      createAndPropagate("baseline", "baseline.failover.test", Steady::now(), {0, 1}, baselineMs, "the first POST");
  ASSERT_TRUE(baselineRoute.ok);
  waitLedgerInSync("baseline", {nodeId(0), nodeId(1)}, baselineRoute.at);
  checkConfigAge("baseline", {0, 1});

  // --- 1. A NATS node dies: one that an edge's own NATS connection is on
  // (found in each node's /connz by the connection's name,
  // "proxyos-edge-<node id>"), so that the edge must reconnect and its
  // watches move to another node. Among those, the JetStream meta leader
  // first (no consumer can be recreated until a new one is elected, while
  // writes go on at once), then the routes stream's leader (writes wait for
  // an election), then a node hosting an edge's watch consumer.
  const auto streamLeader = cluster.streamLeader(kRoutesStream);
  const auto metaLeader = cluster.metaLeader();
  ASSERT_TRUE(streamLeader.has_value()) << "no leader for " << kRoutesStream;
  ASSERT_TRUE(metaLeader.has_value()) << "no JetStream meta leader";
  const auto consumers = cluster.consumerHosts(kRoutesStream);
  const auto hostsConsumer = [&](int node) {
    return std::any_of(consumers.begin(), consumers.end(), [&](const auto& c) { return c.second == node; });
  };
  const auto natsClientName = [](int e) { return "proxyos-edge-" + nodeId(e); };
  std::map<int, std::vector<int>> edgesOnNode;  // node -> edges connected to it
  for (int e = 0; e < kEdges; ++e) {
    const auto nodes = cluster.nodesWithClient(natsClientName(e));
    ASSERT_EQ(nodes.size(), 1u) << nodeId(e) << ": its NATS connection '" << natsClientName(e)
                                << "' is not listed by exactly one node's /connz";
    edgesOnNode[nodes.front()].push_back(e);
    std::printf("[ nats ] %s's NATS connection is on node %d\n", nodeId(e).c_str(), nodes.front());
  }
  const auto candidate = [&](int node) { return edgesOnNode.count(node) > 0; };
  int natsVictim = edgesOnNode.begin()->first;
  if (candidate(*metaLeader)) {
    natsVictim = *metaLeader;
  } else if (candidate(*streamLeader)) {
    natsVictim = *streamLeader;
  } else {
    for (const auto& [node, edges] : edgesOnNode)
      if (hostsConsumer(node)) {
        natsVictim = node;
        break;
      }
  }
  const std::vector<int> victimEdges = edgesOnNode.at(natsVictim);
  std::string consumerList, victimEdgeList;
  int victimConsumers = 0;
  for (const auto& [name, node] : consumers) {
    consumerList += " " + name + "@node" + std::to_string(node);
    victimConsumers += node == natsVictim ? 1 : 0;
  }
  for (int e : victimEdges) victimEdgeList += (victimEdgeList.empty() ? "" : ",") + nodeId(e);
  std::string roles;
  if (natsVictim == *metaLeader) roles += " JetStream meta leader,";
  if (natsVictim == *streamLeader) roles += " " + kRoutesStream + " stream leader,";
  std::printf("[ nats ] killing node %d:%s the NATS node of %s, hosting %d of the edges' %zu watch consumers (%s )\n",
              natsVictim, roles.c_str(), victimEdgeList.c_str(), victimConsumers, consumers.size(),
              consumerList.c_str());
  RecordProperty("nats_victim_node", natsVictim);
  RecordProperty("nats_victim_edges_connected", victimEdgeList);
  RecordProperty("nats_victim_is_meta_leader", natsVictim == *metaLeader ? 1 : 0);
  RecordProperty("nats_victim_is_stream_leader", natsVictim == *streamLeader ? 1 : 0);
  RecordProperty("nats_victim_watch_consumers", victimConsumers);
  setPhase(kNatsKilled);
  const auto natsKilledAt = Steady::now();
  cluster.kill(natsVictim);
  std::printf("[ nats ] killed at %s\n", formatTime(SystemClock::instance().now()).c_str());
  std::map<int, double> natsMs;
  const auto natsRoute = createAndPropagate("nats", "nats.failover.test", natsKilledAt, {0, 1}, natsMs);
  ASSERT_TRUE(natsRoute.ok);
  // The edges whose node died: reconnected to another node, and served the
  // route written after the kill within 5 s of its 2xx (as every edge must).
  for (int e : victimEdges) {
    const auto now = cluster.nodesWithClient(natsClientName(e));
    std::printf("[ nats ] %s (was on node %d) served the new route %.0f ms after the 2xx; its NATS connection is now "
                "on node %d\n",
                nodeId(e).c_str(), natsVictim, natsMs[e], now.empty() ? -1 : now.front());
    EXPECT_EQ(now.size(), 1u) << nodeId(e) << " has not reconnected to a surviving NATS node";
    EXPECT_GE(natsMs[e], 0) << nodeId(e) << ", connected to the killed node, never served the new route";
    EXPECT_LE(natsMs[e], ms(kPropagationBound)) << nodeId(e) << ", connected to the killed node";
  }
  waitLedgerInSync("nats", {nodeId(0), nodeId(1)}, natsRoute.at);
  checkConfigAge("nats", {0, 1});
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
  // Confirmed: a write of ours on the primary, then WAIT 1. Replication is
  // one ordered stream, so once the replica acknowledged it, it has every
  // earlier write too: the sessions of `before`, `admin` and the SSO load.
  {
    redis::Client onPrimary(testing::directRedis(primary.port()));
    ASSERT_TRUE(onPrimary.command({"SET", "failover-test:fence", beforeId}).ok());
    const auto acked = onPrimary.command({"WAIT", "1", "2000"});
    ASSERT_TRUE(acked.ok()) << acked.error().message;
    ASSERT_EQ(acked.value().integer, 1) << "WAIT 1: the replica did not acknowledge";
  }
  for (const auto& id : {beforeId, adminId, loadSessionId})
    ASSERT_TRUE(replicaHas(session::RedisSessionStore::sessionKey(id))) << "the replica lacks session " << id;
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

  setPhase(kRedisKilled);
  const auto redisKilledAt = Steady::now();
  primary.kill();
  std::map<int, double> redisMs;
  const auto redisRoute = createAndPropagate("redis", "redis.failover.test", redisKilledAt, {0, 1}, redisMs);
  ASSERT_TRUE(redisRoute.ok);
  EXPECT_EQ(testing::sentinelNames(sentinel->port(), kMaster), replica->address());
  EXPECT_EQ(testing::redisRoleAt(replica->port()), "master");
  waitLedgerInSync("redis", {nodeId(0), nodeId(1)}, redisRoute.at);
  checkConfigAge("redis", {0, 1});

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
  setPhase(kEdgeKilled);
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
  checkConfigAge("edge", {0});
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
  ssoLoad.stop();

  // --- The loads' numbers: zero failures at every surviving edge, every phase.
  for (const Load* l : {&load, &ssoLoad}) {
    const std::string name = l->spec().name;
    std::printf("[ load ] %-5s %-22s %-7s %9s %7s %12s\n", "load", "phase", "edge", "requests", "failed",
                "max latency");
    for (int p = 0; p < kPhaseCount; ++p)
      for (int e = 0; e < kEdges; ++e) {
        const auto t = l->tally(e, p);
        const bool survivor = !(p == kEdgeKilled && e == kKilledEdge);
        std::string kinds;
        for (const auto& [kind, n] : t.kinds) kinds += " " + kind + " x" + std::to_string(n) + ",";
        std::printf("[ load ] %-5s %-22s %-7s %9llu %7llu %9.1f ms%s", name.c_str(), kPhaseNames[p],
                    nodeId(e).c_str(), static_cast<unsigned long long>(t.ok + t.failed),
                    static_cast<unsigned long long>(t.failed), t.maxLatencyMs,
                    survivor ? "" : "  (the killed edge: its failures show the count works)");
        if (t.failed > 0)
          std::printf(" [%s from +%.0f to +%.0f ms into the phase]", kinds.c_str(), t.firstFailureMs, t.lastFailureMs);
        std::printf("\n");
        const std::string prefix = (name == "plain" ? "" : name + "_") + kPhaseNames[p] + "_" + nodeId(e);
        RecordProperty(prefix + "_requests", static_cast<int>(t.ok + t.failed));
        RecordProperty(prefix + "_failed", static_cast<int>(t.failed));
        if (!survivor) {
          // The load kept hitting the dead edge: what it counted there shows
          // that a failure is seen when there is one.
          EXPECT_GT(t.failed, 0u) << name << ": requests to the killed edge were not counted as failures";
          if (!t.samples.empty()) std::printf("[ load ]   e.g. %s\n", t.samples.front().c_str());
          continue;
        }
        std::string samples;
        for (const auto& sample : t.samples) samples += "\n  " + sample;
        EXPECT_EQ(t.failed, 0u) << name << " load, " << kPhaseNames[p] << " at " << nodeId(e) << ":" << samples;
        EXPECT_GT(t.ok, 0u) << name << " load, " << kPhaseNames[p] << " at " << nodeId(e);
      }
  }
  // What the edges' watches of the routes bucket went through, and the SSO
  // checks they answered 503 because Redis could not be asked (their logs).
  for (int e = 0; e < kEdges; ++e) {
    std::istringstream lines(testing::readFile(edgeLog(e)));
    int storeUnavailable = 0;
    std::string firstUnavailable, lastUnavailable;
    for (std::string line; std::getline(lines, line);) {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      const std::string msg = j.is_object() && j.contains("msg") && j["msg"].is_string() ? j["msg"].get<std::string>() : line;
      const std::string time = j.is_object() && j.contains("time") && j["time"].is_string() ? j["time"].get<std::string>() : "";
      if (msg.find("proxyos-routes") != std::string::npos && msg.find("watch") != std::string::npos)
        std::printf("[ watch ] %s %s: %s\n", time.c_str(), nodeId(e).c_str(), msg.c_str());
      if (msg.find("session store is unavailable") != std::string::npos) {
        if (storeUnavailable++ == 0) firstUnavailable = time;
        lastUnavailable = time;
      }
    }
    if (storeUnavailable > 0)
      std::printf("[ sso ] %s logged \"the session store is unavailable; answering 503\" %d time(s), %s to %s\n",
                  nodeId(e).c_str(), storeUnavailable, firstUnavailable.c_str(), lastUnavailable.c_str());
  }

  std::printf("[ total ] %.0f ms, set-up included\n", ms(Steady::now() - setUpStart));
}

}  // namespace
}  // namespace proxyos
