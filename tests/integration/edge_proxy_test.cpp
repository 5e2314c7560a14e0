// The edge data plane end to end: a ProxyServer in this process on port 0,
// real upstream servers (tests/support/test_upstream.h), real sockets.
#include <gtest/gtest.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "services/edge-proxy/proxy_server.h"
#include "services/edge-proxy/request_id.h"
#include "services/edge-proxy/upstream_selector.h"
#include "tests/support/in_process_edge.h"
#include "tests/support/loopback.h"
#include "tests/support/test_upstream.h"
#include "tests/support/wait.h"

namespace {

using namespace proxyos;
using namespace proxyos::edge;
using proxyos::testing::TestUpstream;
using proxyos::testing::waitUntil;
namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr std::uint64_t kBig = 256ull << 20;  // 256 MiB
constexpr std::size_t kChunk = 64 * 1024;

model::Route route(const std::string& id, const std::vector<std::string>& upstreams) {
  model::Route r;
  r.id = id;
  r.domains = {"app.test"};
  r.upstreams = upstreams;
  return r;
}

std::string deadUpstream() { return "http://127.0.0.1:" + std::to_string(proxyos::testing::freePort()); }

void setTimeouts(tcp::socket& s) { proxyos::testing::setSocketTimeouts(s, 30s); }

/// A blocking client connection to the proxy.
class Client {
 public:
  explicit Client(std::uint16_t port) : socket_(ioc_) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
    setTimeouts(socket_);
  }
  void send(std::string_view raw) { asio::write(socket_, asio::buffer(raw)); }
  http::response<http::string_body> get(const std::string& target,
                                        const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    std::string raw = "GET " + target + " HTTP/1.1\r\nHost: app.test\r\n";
    for (const auto& [k, v] : headers) raw += k + ": " + v + "\r\n";
    send(raw + "\r\n");
    return read();
  }
  http::response<http::string_body> read() {
    http::response_parser<http::string_body> p;
    p.body_limit(1 << 20);
    boost::system::error_code ec;
    http::read(socket_, buffer_, p, ec);
    if (!ec) return p.release();
    http::response<http::string_body> none;
    none.result(http::status::unknown);  // 0: no response
    return none;
  }
  /// True when the proxy closes the connection (EOF) before `timeout`.
  bool closedByPeer() {
    char c;
    boost::system::error_code ec;
    socket_.read_some(asio::buffer(&c, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }
  tcp::socket& socket() { return socket_; }
  boost::beast::flat_buffer& buffer() { return buffer_; }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

long statusKb(const std::string& key) {
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  return -1;
}

/// Peak RSS growth (KiB) while `work` runs: VmHWM after a reset through
/// /proc/self/clear_refs when the kernel allows it, and a 2 ms VmRSS sampler
/// either way; the larger of the two counts.
template <class Work>
long rssGrowthKb(Work&& work) {
  const long before = statusKb("VmRSS");
  std::ofstream("/proc/self/clear_refs") << "5";
  const bool hwmReset = statusKb("VmHWM") <= before + 1024;
  if (!hwmReset) std::printf("[ info     ] VmHWM cannot be reset here; sampling VmRSS only\n");
  std::atomic<bool> done{false};
  std::atomic<long> sampled{before};
  std::thread sampler([&] {
    while (!done) {
      sampled = std::max(sampled.load(), statusKb("VmRSS"));
      std::this_thread::sleep_for(2ms);
    }
  });
  try {
    work();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "transfer failed: " << e.what();
  }
  done = true;
  sampler.join();
  const long peak = std::max(sampled.load(), hwmReset ? statusKb("VmHWM") : 0L);
  return peak - before;
}

class RecordingObserver : public ProxyObserver {
 public:
  void onRequest(AccessRecord&& r) override {
    if (!store) return;
    std::lock_guard lock(mu_);
    records_.push_back(std::move(r));
  }
  std::atomic<bool> store{true};
  std::vector<AccessRecord> records() {
    std::lock_guard lock(mu_);
    return records_;
  }

 private:
  std::mutex mu_;
  std::vector<AccessRecord> records_;
};

// Every test runs twice: on an io_context run by two threads (sessions on
// strands) and on one built for a single thread (concurrency hint 1:
// sessions without strands, as the edge runs with PROXYOS_EDGE_THREADS=1).
class EdgeProxyTest : public ::testing::TestWithParam<int> {
 protected:
  void TearDown() override { EXPECT_TRUE(edge_.stop()) << "connections still open 10 s after stop()"; }

  void startProxy(ProxyOptions options = {}) {
    if (std::getenv("EDGE_TEST_DEBUG")) spdlog::set_level(spdlog::level::debug);
    edge_.start(tables_, observer_, system_, std::move(options));
    port_ = edge_.port();
  }

  void publish(std::vector<model::Route> routes) {
    ConfigSnapshot snapshot;
    snapshot.routes = std::move(routes);
    snapshot.revision = ++revision_;
    auto table = RouteTable::build(snapshot, "proxyos.test");
    ASSERT_TRUE(table.ok());
    tables_.publish(table.value());
  }

  TableHolder tables_;
  RecordingObserver observer_;
  NotFoundSystemRoute system_;
  std::uint64_t revision_ = 0;
  proxyos::testing::InProcessEdge edge_{GetParam()};
  std::uint16_t port_ = 0;
};

TEST_P(EdgeProxyTest, ForwardsGetWithForwardedHeadersAndStripsHopByHop) {
  TestUpstream a("A");
  auto r = route("r1", {a.url()});
  r.requestHeaders.set = {{"X-Route", "r1"}};
  r.requestHeaders.remove = {"X-Remove-Me"};
  r.responseHeaders.set = {{"X-Resp", "yes"}};
  r.responseHeaders.remove = {"X-Upstream-Secret"};
  publish({r});
  startProxy();

  Client c(port_);
  auto res = c.get("/headers?q=1", {{"X-Forwarded-For", "1.2.3.4"},
                                    {"Connection", "keep-alive, X-Secret"},
                                    {"X-Secret", "s3cret"},
                                    {"Keep-Alive", "300"},
                                    {"Proxy-Authorization", "Basic Zm9vOmJhcg=="},
                                    {"TE", "trailers"},
                                    {"Upgrade", "h2c"},
                                    {"X-Remove-Me", "1"},
                                    {"X-Route", "forged"}});
  ASSERT_EQ(res.result_int(), 200u);
  const auto body = nlohmann::json::parse(res.body());
  const auto& h = body["headers"];
  EXPECT_EQ(h["x-forwarded-for"], "1.2.3.4, 127.0.0.1");
  EXPECT_EQ(h["x-forwarded-host"], "app.test");
  EXPECT_EQ(h["x-forwarded-proto"], "http");
  EXPECT_EQ(h["via"], "1.1 proxyos");
  EXPECT_EQ(h["host"], "app.test");
  EXPECT_EQ(h["x-route"], "r1");
  EXPECT_EQ(body["target"], "/headers?q=1");
  for (const char* gone :
       {"connection", "x-secret", "keep-alive", "proxy-authorization", "te", "upgrade", "x-remove-me"})
    EXPECT_FALSE(h.contains(gone)) << gone;

  EXPECT_EQ(res["X-Upstream"], "A");
  EXPECT_EQ(res["X-Resp"], "yes");
  EXPECT_EQ(res["Via"], "1.1 proxyos");
  for (const char* gone : {"X-Hop-Resp", "Keep-Alive", "X-Upstream-Secret"}) EXPECT_EQ(res.count(gone), 0u) << gone;

  ASSERT_TRUE(waitUntil([&] { return !observer_.records().empty(); }, 5s));
  const auto rec = observer_.records().front();
  EXPECT_EQ(rec.routeId, "r1");
  EXPECT_EQ(rec.status, 200);
  EXPECT_EQ(rec.path, "/headers");
  EXPECT_EQ(rec.upstream, "127.0.0.1:" + std::to_string(a.port()));
}

TEST_P(EdgeProxyTest, KeepAliveReusesClientAndUpstreamConnections) {
  TestUpstream a("A");
  publish({route("r1", {a.url()})});
  startProxy();
  Client c(port_);
  const auto first = c.get("/headers");
  const auto second = c.get("/headers");
  ASSERT_EQ(first.result_int(), 200u);
  ASSERT_EQ(second.result_int(), 200u);
  EXPECT_EQ(nlohmann::json::parse(first.body())["connection"], nlohmann::json::parse(second.body())["connection"]);
  EXPECT_EQ(a.connectionsAccepted(), 1);
  c.send("GET /headers?n=1 HTTP/1.1\r\nHost: app.test\r\n\r\nGET /headers?n=2 HTTP/1.1\r\nHost: app.test\r\n\r\n");
  EXPECT_EQ(nlohmann::json::parse(c.read().body())["target"], "/headers?n=1");  // pipelined, answered in order
  EXPECT_EQ(nlohmann::json::parse(c.read().body())["target"], "/headers?n=2");
}

// A connection keeps its table between requests (client_session.h); a
// publish must still reach its very next request.
TEST_P(EdgeProxyTest, APublishedTableServesTheNextRequestOnAnOpenConnection) {
  TestUpstream a("A"), b("B");
  publish({route("r1", {a.url()})});
  startProxy();
  Client c(port_);
  EXPECT_EQ(nlohmann::json::parse(c.get("/headers").body())["server"], "A");
  EXPECT_EQ(nlohmann::json::parse(c.get("/headers").body())["server"], "A");
  publish({route("r1", {b.url()})});
  EXPECT_EQ(nlohmann::json::parse(c.get("/headers").body())["server"], "B");
  publish({});
  EXPECT_EQ(c.get("/headers").result_int(), 404u);
}

// The fields of each request and response live in a per-connection arena
// (header_arena.h) emptied when the next request starts: heads far larger than
// its first block, then small ones, on one connection, each arrive intact.
TEST_P(EdgeProxyTest, LargeAndSmallHeadsAlternateOnOneConnection) {
  TestUpstream a("A");
  publish({route("r1", {a.url()})});
  startProxy();
  Client c(port_);
  for (int i = 0; i < 3; ++i) {
    const std::string big(40 * 1024 + i, static_cast<char>('a' + i));
    auto res = c.get("/headers", {{"X-Big", big}, {"X-N", std::to_string(i)}});
    ASSERT_EQ(res.result_int(), 200u);
    auto h = nlohmann::json::parse(res.body())["headers"];
    EXPECT_EQ(h["x-big"], big);
    EXPECT_EQ(h["x-n"], std::to_string(i));
    res = c.get("/headers", {{"X-Small", "s" + std::to_string(i)}});
    ASSERT_EQ(res.result_int(), 200u);
    h = nlohmann::json::parse(res.body())["headers"];
    EXPECT_EQ(h["x-small"], "s" + std::to_string(i));
    EXPECT_FALSE(h.contains("x-big"));
  }
  EXPECT_EQ(a.connectionsAccepted(), 1);
}

TEST_P(EdgeProxyTest, RequestIdsAreKeptOrReplacedAndReturned) {
  TestUpstream a("A");
  publish({route("r1", {a.url()})});
  startProxy();
  Client c(port_);
  // What the upstream saw, and what the client got back.
  auto ids = [&](const std::vector<std::pair<std::string, std::string>>& headers) {
    const auto res = c.get("/headers", headers);
    EXPECT_EQ(res.result_int(), 200u);
    const auto seen = nlohmann::json::parse(res.body())["headers"].value("x-request-id", "");
    EXPECT_EQ(std::string(res["X-Request-Id"]), seen);
    return seen;
  };
  EXPECT_EQ(ids({{"X-Request-Id", "client-id_1.2:3"}}), "client-id_1.2:3");
  const std::string generated[] = {ids({}), ids({}), ids({{"X-Request-Id", "has space"}}),
                                   ids({{"X-Request-Id", std::string(100, 'a')}}),
                                   ids({{"X-Request-Id", "one"}, {"X-Request-Id", "two"}})};
  for (std::size_t i = 0; i < std::size(generated); ++i) {
    EXPECT_TRUE(isValidRequestId(generated[i])) << generated[i];
    EXPECT_GE(generated[i].size(), 17u) << generated[i];  // not a client value cut short
    for (std::size_t j = 0; j < i; ++j) EXPECT_NE(generated[i], generated[j]);
  }
  c.send("GET / HTTP/1.1\r\nHost: nowhere.test\r\nX-Request-Id: lost-1\r\n\r\n");
  const auto notFound = c.read();
  EXPECT_EQ(notFound.result_int(), 404u);
  EXPECT_EQ(notFound["X-Request-Id"], "lost-1");  // error pages carry it too

  ASSERT_TRUE(waitUntil([&] { return observer_.records().size() == 7; }, 5s));
  const auto records = observer_.records();
  EXPECT_EQ(records[0].requestId, "client-id_1.2:3");
  for (std::size_t i = 0; i < std::size(generated); ++i) EXPECT_EQ(records[i + 1].requestId, generated[i]);
  EXPECT_EQ(records[6].requestId, "lost-1");
}

TEST_P(EdgeProxyTest, RequestHygiene) {
  TestUpstream a("A");
  publish({route("r1", {a.url()})});
  startProxy();
  {
    Client c(port_);
    c.send(
        "POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    EXPECT_EQ(c.read().result_int(), 400u);
    EXPECT_TRUE(c.closedByPeer());
  }
  {
    Client c(port_);
    c.send("POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5x\r\n\r\nhello");
    EXPECT_EQ(c.read().result_int(), 400u);
  }
  {
    Client c(port_);
    EXPECT_EQ(c.get("/headers", {{"X-Big", std::string(70 * 1024, 'a')}}).result_int(), 431u);
  }
  {
    Client c(port_);
    c.send("GET / HTTP/1.1\r\nHost: nowhere.test\r\n\r\n");
    const auto res = c.read();
    EXPECT_EQ(res.result_int(), 404u);
    EXPECT_NE(res.body().find("404 Not Found"), std::string::npos);
  }
  {
    Client c(port_);  // HTTP/1.0: served, then closed
    c.send("GET /headers HTTP/1.0\r\nHost: app.test\r\n\r\n");
    EXPECT_EQ(c.read().result_int(), 200u);
    EXPECT_TRUE(c.closedByPeer());
  }
  {
    Client c(port_);  // Expect: 100-continue relayed from the upstream
    c.send("POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    EXPECT_EQ(c.read().result_int(), 100u);
    c.send("hello");
    const auto res = c.read();
    ASSERT_EQ(res.result_int(), 200u);
    EXPECT_EQ(nlohmann::json::parse(res.body())["bytes"], 5);
  }
}

TEST_P(EdgeProxyTest, BodyOverRouteLimitGets413) {
  TestUpstream a("A");
  publish({route("r1", {a.url()})});
  ProxyOptions options;
  options.maxBodyBytes = 1000;
  startProxy(options);
  Client byLength(port_);
  byLength.send("POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5000\r\n\r\n");
  EXPECT_EQ(byLength.read().result_int(), 413u);
  Client chunked(port_);  // found out mid-stream, after the head went upstream
  chunked.send("POST /upload HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n" +
               std::string("1388\r\n") + std::string(5000, 'x') + "\r\n0\r\n\r\n");
  EXPECT_EQ(chunked.read().result_int(), 413u);
  EXPECT_EQ(chunked.get("/headers").result_int(), 0u);  // closed after the 413
}

TEST_P(EdgeProxyTest, StopClosesIdleConnectionsAndLetsInFlightRequestsFinish) {
  TestUpstream a("A");
  publish({route("r1", {a.url()})});
  startProxy();
  Client idle(port_);
  ASSERT_EQ(idle.get("/headers").result_int(), 200u);
  http::response<http::string_body> stalled;
  std::thread inFlight([&] { stalled = Client(port_).get("/stall"); });
  ASSERT_TRUE(waitUntil([&] { return edge_.server().connectionCount() == 2; }, 5s));
  edge_.server().stop();
  EXPECT_TRUE(idle.closedByPeer());
  a.releaseStalled();
  inFlight.join();
  EXPECT_EQ(stalled.result_int(), 200u);
  EXPECT_EQ(stalled.body(), "late");
  EXPECT_EQ(stalled[http::field::connection], "close");
  EXPECT_FALSE(proxyos::testing::waitForPort(port_, 200ms));
}

TEST_P(EdgeProxyTest, HttpsUpstreamWithVerificationOff) {
  proxyos::testing::TlsUpstream tls;
  publish({route("r1", {tls.url()})});
  ProxyOptions options;
  options.verifyUpstreamTls = false;
  startProxy(options);
  Client c(port_);
  const auto res = c.get("/");
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_NE(res.body().find("TLSv1.3"), std::string::npos) << res.body().substr(0, 300);
}

TEST_P(EdgeProxyTest, UntrustedHttpsUpstreamGives502) {
  proxyos::testing::TlsUpstream tls;
  publish({route("r1", {tls.url()})});
  startProxy();  // verification on: a self-signed certificate fails it
  Client c(port_);
  EXPECT_EQ(c.get("/").result_int(), 502u);
}

TEST(UpstreamSelectorTest, BacksOffExponentiallyAndTriesTheSoonestWhenAllAreHeldOut) {
  FakeClock clock;
  auto a = std::make_shared<UpstreamState>(UpstreamEndpoint{"http", "10.0.0.1", 80, false}, 4);
  auto b = std::make_shared<UpstreamState>(UpstreamEndpoint{"http", "10.0.0.2", 80, false}, 4);
  UpstreamSelector selector({a, b});
  EXPECT_NE(selector.pick(clock.monotonic()), selector.pick(clock.monotonic()));  // round robin
  a->health().recordFailure(clock.monotonic(), 1000ms, 30000ms);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(selector.pick(clock.monotonic()), b.get());
  b->health().recordFailure(clock.monotonic(), 1000ms, 30000ms);
  b->health().recordFailure(clock.monotonic(), 1000ms, 30000ms);  // 2nd failure: 2 s
  EXPECT_EQ(selector.pick(clock.monotonic()), a.get());           // all held out: a ends first
  EXPECT_EQ(selector.pick(clock.monotonic(), a.get()), b.get());  // a retry never picks a again
  clock.advance(1500ms);
  EXPECT_TRUE(a->health().available(clock.monotonic()));
  EXPECT_FALSE(b->health().available(clock.monotonic()));
  for (int i = 0; i < 5; ++i) b->health().recordFailure(clock.monotonic(), 1000ms, 30000ms);
  EXPECT_EQ(b->health().heldUntil() - clock.monotonic(), std::chrono::milliseconds(30000));  // capped
  b->health().recordSuccess();
  EXPECT_TRUE(b->health().available(clock.monotonic()));
}

TEST_P(EdgeProxyTest, SlowAndIdleClientsAreCutOff) {
  TestUpstream a("A");
  publish({route("r1", {a.url()})});
  ProxyOptions options;
  options.clientHeaderTimeout = 300ms;
  options.idleTimeout = 300ms;
  startProxy(options);
  const auto start = std::chrono::steady_clock::now();
  Client slow(port_);
  slow.send("GET /headers HTTP/1.1\r\nHost: app");  // never finishes its head
  Client idle(port_);
  ASSERT_EQ(idle.get("/headers").result_int(), 200u);  // then says nothing
  EXPECT_TRUE(slow.closedByPeer());
  EXPECT_TRUE(idle.closedByPeer());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST_P(EdgeProxyTest, OneUpstreamDownEveryRequestStillSucceeds) {
  TestUpstream a("A");
  publish({route("r1", {deadUpstream(), a.url()})});
  startProxy();
  Client c(port_);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(c.get("/headers").result_int(), 200u) << "request " << i;
}

TEST_P(EdgeProxyTest, AllUpstreamsDownGives502Page) {
  const auto dead1 = deadUpstream(), dead2 = deadUpstream();
  publish({route("r1", {dead1, dead2})});
  startProxy();
  Client c(port_);
  for (int i = 0; i < 3; ++i) {  // the second and third run into back-off
    const auto res = c.get("/headers");
    ASSERT_EQ(res.result_int(), 502u);
    EXPECT_NE(res.body().find("502 Bad Gateway"), std::string::npos);
    EXPECT_NE(res.body().find("The upstream did not answer"), std::string::npos);
    EXPECT_EQ(res.body().find("127.0.0.1"), std::string::npos);
    EXPECT_EQ(res.body().find(dead1.substr(17)), std::string::npos);
  }
}

TEST_P(EdgeProxyTest, SsoRouteFailsClosedUntilTheEdgeEnforcesSso) {
  TestUpstream a("A");
  auto r = route("r1", {a.url()});
  r.ssoEnabled = true;
  r.ssoProviderId = "p1";
  publish({r});
  startProxy();
  Client c(port_);
  EXPECT_EQ(c.get("/headers").result_int(), 503u);
  EXPECT_EQ(a.connectionsAccepted(), 0) << "the upstream must never see an unchecked request";
}

TEST_P(EdgeProxyTest, UpstreamStallingPastHeaderTimeoutGives504) {
  TestUpstream a("A");
  publish({route("r1", {a.url()})});
  ProxyOptions options;
  options.upstreamHeaderTimeout = 300ms;
  startProxy(options);
  Client c(port_);
  const auto start = std::chrono::steady_clock::now();
  const auto res = c.get("/stall");
  EXPECT_EQ(res.result_int(), 504u);
  EXPECT_NE(res.body().find("did not answer"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  a.releaseStalled();
}

TEST_P(EdgeProxyTest, StreamsChunkedUploadOf256MiBWithBoundedMemory) {
  TestUpstream a("A");
  publish({route("r1", {a.url()})});
  startProxy();
  Client c(port_);
  std::vector<char> chunk(kChunk);
  proxyos::testing::Sha256Stream sent;
  http::response<http::string_body> res;
  const long growthKb = rssGrowthKb([&] {
    c.send("POST /upload HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n");
    char size[32];
    for (std::uint64_t off = 0; off < kBig; off += kChunk) {
      proxyos::testing::fillPattern(chunk.data(), kChunk, off);
      sent.update(chunk.data(), kChunk);
      const int n = std::snprintf(size, sizeof size, "%zx\r\n", kChunk);
      std::array<asio::const_buffer, 3> frame{asio::buffer(size, n), asio::buffer(chunk), asio::buffer("\r\n", 2)};
      asio::write(c.socket(), frame);
    }
    c.send("0\r\n\r\n");
    res = c.read();
  });
  ASSERT_EQ(res.result_int(), 200u);
  const auto body = nlohmann::json::parse(res.body());
  EXPECT_EQ(body["bytes"], kBig);
  EXPECT_EQ(body["sha256"], sent.hex());
  EXPECT_LT(growthKb, 64 * 1024) << "RSS grew by " << growthKb << " KiB";
  std::printf("[ info     ] 256 MiB upload: peak RSS growth %ld KiB\n", growthKb);
}

TEST_P(EdgeProxyTest, StreamsDownloadOf256MiBByteExact) {
  TestUpstream a("A");
  publish({route("r1", {a.url()})});
  startProxy();
  for (const bool chunked : {false, true}) {
    Client c(port_);
    proxyos::testing::Sha256Stream got, expected;
    std::uint64_t total = 0;
    std::vector<char> chunk(kChunk);
    const long growthKb = rssGrowthKb([&] {
      c.send("GET /bytes?n=" + std::to_string(kBig) + (chunked ? "&chunked=1" : "") +
             " HTTP/1.1\r\nHost: app.test\r\n\r\n");
      http::response_parser<http::buffer_body> p;
      p.body_limit(~std::uint64_t{0});  // not none (Beast 1.74 bug)
      http::read_header(c.socket(), c.buffer(), p);
      ASSERT_EQ(p.get().result_int(), 200u);
      while (!p.is_done()) {
        p.get().body().data = chunk.data();
        p.get().body().size = chunk.size();
        boost::system::error_code ec;
        http::read_some(c.socket(), c.buffer(), p, ec);
        ASSERT_TRUE(!ec || ec == http::error::need_buffer) << ec.message();
        const std::size_t n = chunk.size() - p.get().body().size;
        got.update(chunk.data(), n);
        total += n;
      }
    });
    for (std::uint64_t off = 0; off < kBig; off += kChunk) {
      proxyos::testing::fillPattern(chunk.data(), kChunk, off);
      expected.update(chunk.data(), kChunk);
    }
    EXPECT_EQ(total, kBig);
    EXPECT_EQ(got.hex(), expected.hex()) << (chunked ? "chunked" : "content-length");
    EXPECT_LT(growthKb, 64 * 1024) << "RSS grew by " << growthKb << " KiB";
    std::printf("[ info     ] 256 MiB download (%s): peak RSS growth %ld KiB\n", chunked ? "chunked" : "length",
                growthKb);
  }
}

std::unique_ptr<websocket::stream<tcp::socket>> openWebSocket(asio::io_context& ioc, std::uint16_t port) {
  auto ws = std::make_unique<websocket::stream<tcp::socket>>(ioc);
  ws->next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
  setTimeouts(ws->next_layer());
  ws->handshake("app.test", "/ws");
  return ws;
}

std::string echo(websocket::stream<tcp::socket>& ws, const std::string& text) {
  ws.write(asio::buffer(text));
  boost::beast::flat_buffer b;
  ws.read(b);
  return boost::beast::buffers_to_string(b.data());
}

TEST_P(EdgeProxyTest, WebSocketEchoThroughProxy) {
  TestUpstream a("A");
  publish({route("r1", {a.url()})});
  startProxy();
  asio::io_context ioc;
  auto ws = openWebSocket(ioc, port_);
  EXPECT_EQ(echo(*ws, "hello"), "hello");
  EXPECT_EQ(echo(*ws, std::string(200000, 'x')), std::string(200000, 'x'));
  ws->close(websocket::close_code::normal);
}

TEST_P(EdgeProxyTest, TableSwapKeepsOpenWebSocketAndSendsNewRequestsToNewUpstream) {
  TestUpstream a("A"), b("B");
  publish({route("r1", {a.url()})});
  startProxy();
  asio::io_context ioc;
  auto ws = openWebSocket(ioc, port_);
  EXPECT_EQ(echo(*ws, "before"), "before");

  publish({route("r1", {b.url()})});
  EXPECT_EQ(echo(*ws, "after"), "after");
  Client c(port_);
  const auto res = c.get("/headers");
  ASSERT_EQ(res.result_int(), 200u);
  EXPECT_EQ(nlohmann::json::parse(res.body())["server"], "B");
  EXPECT_EQ(echo(*ws, "still"), "still");
  ws->close(websocket::close_code::normal);
}

/// An upstream that answers each connection with fixed bytes and closes it
/// at once, so its FIN arrives together with its last bytes (one segment, or
/// two back to back): the case in which a read that waits for epoll without
/// looking first would never learn of the close (draining_read.h).
class AnswerAndClose {
 public:
  explicit AnswerAndClose(std::string answer)
      : answer_(std::move(answer)), acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] {
      for (;;) {
        tcp::socket s(ioc_);
        boost::system::error_code ec;
        acceptor_.accept(s, ec);
        if (ec || stopping_) return;
        asio::read_until(s, asio::dynamic_buffer(request_), "\r\n\r\n", ec);
        request_.clear();
        // Corked, the FIN leaves in the same segment as the last bytes.
        const int on = 1;
        ::setsockopt(s.native_handle(), IPPROTO_TCP, TCP_CORK, &on, sizeof on);
        asio::write(s, asio::buffer(answer_), ec);
        s.shutdown(tcp::socket::shutdown_send, ec);
        s.close(ec);
        ++answered_;
      }
    });
  }
  ~AnswerAndClose() {
    stopping_ = true;
    boost::system::error_code ec;
    tcp::socket poke(ioc_);
    poke.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()); }
  int answered() const { return answered_; }

 private:
  std::string answer_;
  std::string request_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> answered_{0};
  std::thread thread_;
};

// The timeouts are a minute; each of these must finish in a few seconds.
ProxyOptions minuteTimeouts() {
  ProxyOptions o;
  o.idleTimeout = 60s;
  o.upstreamHeaderTimeout = 60s;
  return o;
}

/// Three requests on one client connection, each answered 200 with `body`
/// within 5 s.
void expectThreePromptAnswers(std::uint16_t port, const std::string& body) {
  Client c(port);
  for (int i = 0; i < 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const auto res = c.get("/");
    ASSERT_EQ(res.result_int(), 200u) << "request " << i;
    EXPECT_EQ(res.body(), body);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s)
        << "request " << i << ": the upstream's close was not seen until a timeout";
  }
}

TEST_P(EdgeProxyTest, ABodyThatEndsWithTheUpstreamsCloseIsDeliveredAtOnce) {
  AnswerAndClose upstream("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nthe whole body");
  publish({route("r1", {upstream.url()})});
  startProxy(minuteTimeouts());
  expectThreePromptAnswers(port_, "the whole body");
}

TEST_P(EdgeProxyTest, AKeepAliveUpstreamThatClosesAfterAnsweringIsRetriedAtOnce) {
  // Says nothing of closing, then closes: the pooled connection is stale by
  // the time the next request uses it.
  AnswerAndClose upstream("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  publish({route("r1", {upstream.url()})});
  startProxy(minuteTimeouts());
  expectThreePromptAnswers(port_, "ok");
  EXPECT_EQ(upstream.answered(), 3);
}

TEST_P(EdgeProxyTest, AnUpgradedConnectionClosedWithItsLastBytesClosesAtOnce) {
  AnswerAndClose upstream(
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n"
      "first bytes of the new protocol");
  publish({route("r1", {upstream.url()})});
  startProxy(minuteTimeouts());
  Client c(port_);
  const auto start = std::chrono::steady_clock::now();
  c.send("GET / HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n");
  http::response_parser<http::empty_body> p;
  boost::system::error_code ec;
  http::read_header(c.socket(), c.buffer(), p, ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_EQ(p.get().result_int(), 101u);
  std::string rest = boost::beast::buffers_to_string(c.buffer().data());
  char chunk[256];
  for (;;) {
    const std::size_t n = c.socket().read_some(asio::buffer(chunk), ec);
    rest.append(chunk, n);
    if (ec) break;
  }
  EXPECT_EQ(ec, asio::error::eof) << ec.message();
  EXPECT_EQ(rest, "first bytes of the new protocol");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s) << "the upstream's close reached the client late";
}

INSTANTIATE_TEST_SUITE_P(Threading, EdgeProxyTest, ::testing::Values(2, 1),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return info.param == 1 ? std::string("OneThread") : std::string("TwoThreads");
                         });

}  // namespace
