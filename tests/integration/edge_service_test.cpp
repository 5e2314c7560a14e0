// proxyos-edge as an operator runs it: the real binary, real NATS and Redis,
// routes written through a real route-registry, real upstreams. Covers issue
// #5's acceptance points 1 and 2, the system route, and the 1 GiB upload's
// memory bound measured on the edge process itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/support/http_client.h"
#include "tests/support/loopback.h"
#include "tests/support/read_file.h"
#include "tests/support/service_process.h"
#include "tests/support/session_fixture.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_servers.h"
#include "tests/support/test_upstream.h"
#include "tests/support/wait.h"

namespace proxyos {
namespace {

using namespace std::chrono_literals;
using testing::httpRequest;
using testing::HttpResult;
using testing::TestUpstream;
namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;

const std::string kSecret = "0123456789abcdef0123456789abcdef";
const std::string kDashHost = "dash.test";
constexpr std::uint64_t kGiB = 1ull << 30;
constexpr std::size_t kChunk = 64 * 1024;

long statusKb(pid_t pid, const std::string& key) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  return -1;
}

void setTimeouts(tcp::socket& s) {
  timeval tv{30, 0};
  setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

class EdgeServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    nats.start();
    redis.start();
    admin = testing::issueSessionCookie(redis.url(), kSecret, session::Role::Admin, "admin");
    edgePort = testing::freePort();
    edgeAdminPort = testing::freePort();
    registry = testing::startService(std::string(PROXYOS_BIN_DIR) + "/proxyos-route-registry", env(),
                                     dir.path() + "/registry.log");
    startEdge();
  }

  std::map<std::string, std::string> env() const {
    return {{"PROXYOS_SECRET", kSecret},
            {"PROXYOS_NATS_URL", nats.url()},
            {"PROXYOS_REDIS_URL", redis.url()},
            {"PROXYOS_URL", "http://" + kDashHost + ":" + std::to_string(edgePort)},
            {"PROXYOS_AUTH_URL", "http://127.0.0.1:1"},
            {"PROXYOS_SSO_URL", "http://127.0.0.1:1"},
            {"PROXYOS_LOG_FORMAT", "json"}};
  }

  void startEdge() {
    auto e = env();
    e["PROXYOS_DATA_DIR"] = dir.path() + "/edge";
    e["PROXYOS_NODE_ID"] = "edge-test";
    e["PROXYOS_EDGE_HTTP_LISTEN"] = "127.0.0.1:" + std::to_string(edgePort);
    e["PROXYOS_EDGE_HTTPS_LISTEN"] = "127.0.0.1:0";  // HTTPS is edge_tls_test's; never the shared :8443
    e["PROXYOS_EDGE_THREADS"] = "2";
    e["PROXYOS_EDGE_ACCESS_LOG"] = dir.path() + "/access.log";
    e["PROXYOS_REGISTRY_URL"] = registry.base;
    edge = testing::startService(std::string(PROXYOS_BIN_DIR) + "/proxyos-edge", e,
                                 dir.path() + "/edge-" + std::to_string(edgeStarts++) + ".log", edgeAdminPort,
                                 "PROXYOS_EDGE_ADMIN_LISTEN");
  }

  /// A dashboard-style call to the registry: admin cookie and Origin.
  HttpResult api(const std::string& method, const std::string& path, const std::string& body = "") {
    return httpRequest(method, registry.base + path, body,
                       {{"Cookie", admin}, {"Origin", "http://" + kDashHost + ":" + std::to_string(edgePort)}});
  }

  std::string createRoute(const std::string& domain, const std::string& upstream) {
    const auto r = api("POST", "/api/routes",
                       R"({"name":"t","domains":[")" + domain + R"("],"upstreams":[")" + upstream + R"("]})");
    EXPECT_EQ(r.status, 201) << r.body;
    return r.status == 201 ? r.json()["id"].get<std::string>() : "";
  }

  /// GET through the edge with the given Host.
  HttpResult viaEdge(const std::string& host, const std::string& path = "/headers",
                     std::map<std::string, std::string> headers = {}) {
    headers["Host"] = host;
    return httpRequest("GET", "http://127.0.0.1:" + std::to_string(edgePort) + path, "", headers);
  }

  /// Which TestUpstream answered /headers for `host` ("" when none did).
  std::string servedBy(const std::string& host) {
    const auto r = viaEdge(host);
    return r.status == 200 ? r.json()["server"].get<std::string>() : "";
  }

  nlohmann::json edgeStatus() { return httpRequest("GET", edge.base + "/status").json(); }

  testing::TempDir dir;
  testing::NatsServer nats;
  testing::RedisServer redis;
  std::string admin;
  std::uint16_t edgePort = 0;
  std::uint16_t edgeAdminPort = 0;
  int edgeStarts = 0;
  testing::RunningService registry;
  testing::RunningService edge;
};

TEST_F(EdgeServiceTest, RoutesFromTheRegistryAreServedLiveAndDeletesGive404) {
  TestUpstream a("A"), b("B");
  const std::string id = createRoute("app.test", a.url());
  ASSERT_TRUE(testing::waitUntil([&] { return servedBy("app.test") == "A"; }, 10s));

  // 100 changes, each timed from the registry's 2xx to the first request the
  // edge answers from the new config.
  std::vector<double> latenciesMs;
  for (int i = 0; i < 100; ++i) {
    const auto& next = i % 2 == 0 ? b : a;
    const auto r = api("PATCH", "/api/routes/" + id, R"({"upstreams":[")" + next.url() + R"("]})");
    ASSERT_EQ(r.status, 200) << r.body;
    const auto applied = std::chrono::steady_clock::now();
    ASSERT_TRUE(testing::waitUntil([&] { return servedBy("app.test") == next.name(); }, 5s)) << "change " << i;
    latenciesMs.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - applied).count());
  }
  const double p50 = percentile(latenciesMs, 0.5), p99 = percentile(latenciesMs, 0.99);
  std::printf("[ info     ] registry 2xx -> edge serving, 100 changes: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", p50,
              p99, *std::max_element(latenciesMs.begin(), latenciesMs.end()));
  // The goal is p99 < 100 ms (the coalescing window is 20-100 ms); the bound
  // asserted leaves room for a loaded CI machine.
  EXPECT_LT(p99, 500.0);

  // The edge reports what it applied, and the registry sees it in sync.
  const auto status = edgeStatus();
  EXPECT_EQ(status["node"], "edge-test");
  EXPECT_EQ(status["routes"], 1);
  ASSERT_TRUE(testing::waitUntil(
      [&] {
        const auto s = api("GET", "/api/routes/status");
        if (s.status != 200) return false;
        const auto j = s.json();
        return j["edges"].size() == 1 && j["edges"][0]["node"] == "edge-test" && j["edges"][0]["inSync"] == true &&
               j["edges"][0]["revision"] == j["revision"];
      },
      10s));

  // Every request left a JSON access line naming its route and request id.
  ASSERT_TRUE(testing::waitUntil([&] { return testing::readFile(dir.path() + "/access.log").find(id) != std::string::npos; }, 5s));
  std::istringstream lines(testing::readFile(dir.path() + "/access.log"));
  std::string first;
  std::getline(lines, first);
  const auto line = nlohmann::json::parse(first);
  for (const char* field : {"time", "node", "routeId", "host", "method", "path", "status", "bytes", "upstream",
                            "upstreamLatencyMs", "totalLatencyMs", "requestId"})
    EXPECT_TRUE(line.contains(field)) << field << " missing in " << first;

  ASSERT_EQ(api("DELETE", "/api/routes/" + id).status, 204);
  ASSERT_TRUE(testing::waitUntil([&] { return viaEdge("app.test").status == 404; }, 5s));
}

TEST_F(EdgeServiceTest, KeepsServingWithoutNatsAndRestartsOnTheLastKnownGoodTable) {
  TestUpstream a("A");
  createRoute("app.test", a.url());
  ASSERT_TRUE(testing::waitUntil([&] { return servedBy("app.test") == "A"; }, 10s));

  nats.kill();
  for (int i = 0; i < 20; ++i) ASSERT_EQ(servedBy("app.test"), "A") << "request " << i << " with NATS down";

  // A restart while NATS is still down: ready on the file it wrote, serving.
  ASSERT_EQ(edge.process.terminate(), 0) << testing::readFile(edge.log);
  startEdge();
  EXPECT_EQ(httpRequest("GET", edge.base + "/readyz").status, 200);
  EXPECT_EQ(servedBy("app.test"), "A");
  EXPECT_FALSE(edgeStatus()["config"]["natsConnected"].get<bool>());

  // NATS back: live changes flow again.
  nats.restart();
  ASSERT_TRUE(testing::waitUntil([&] { return api("POST", "/api/routes", R"({"name":"n","domains":["new.test"],"upstreams":[")" + a.url() + R"("]})").status == 201; }, 20s));
  ASSERT_TRUE(testing::waitUntil([&] { return servedBy("new.test") == "A"; }, 20s));
}

TEST_F(EdgeServiceTest, SystemRouteProxiesControlPlaneApisAndAnswersEdgeStatus) {
  const auto routes = viaEdge(kDashHost, "/api/routes", {{"Cookie", admin}});
  EXPECT_EQ(routes.status, 200) << routes.body;
  EXPECT_TRUE(routes.json().is_object() || routes.json().is_array()) << routes.body;
  const auto unauthenticated = viaEdge(kDashHost, "/api/routes");
  EXPECT_EQ(unauthenticated.status, 401) << "the registry's own guard answers through the edge";

  // The edge's own API is for the dashboard's users: checked against the
  // same sessions in Redis as the built-in SSO provider.
  const auto anonymous = viaEdge(kDashHost, "/api/edge/status");
  EXPECT_EQ(anonymous.status, 401) << anonymous.body;
  EXPECT_EQ(anonymous.errorCode(), "unauthenticated");
  EXPECT_EQ(viaEdge(kDashHost, "/api/edge/status", {{"Cookie", "proxyos_session=forged"}}).status, 401);
  const std::string ssoOnly = testing::issueSessionCookie(redis.url(), kSecret, session::Role::User, "sso-user");
  const auto user = viaEdge(kDashHost, "/api/edge/status", {{"Cookie", ssoOnly}});
  EXPECT_EQ(user.status, 403) << user.body;
  EXPECT_EQ(user.errorCode(), "forbidden");
  const std::string viewer = testing::issueSessionCookie(redis.url(), kSecret, session::Role::Viewer, "viewer");
  EXPECT_EQ(viaEdge(kDashHost, "/api/edge/status", {{"Cookie", viewer}}).status, 200);
  const auto status = viaEdge(kDashHost, "/api/edge/status", {{"Cookie", admin}});
  ASSERT_EQ(status.status, 200) << status.body;
  EXPECT_EQ(status.json()["node"], "edge-test");
  EXPECT_FALSE(status.json().contains("pid")) << "node internals stay on the admin listener";

  EXPECT_EQ(viaEdge(kDashHost, "/api/nothing").errorCode(), "not_found");
  const auto page = viaEdge(kDashHost, "/settings");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("ProxyOS"), std::string::npos);
  const auto cached = viaEdge(kDashHost, "/settings", {{"If-None-Match", page.header("etag")}});
  EXPECT_EQ(cached.status, 304);
  EXPECT_EQ(cached.headerCount("content-length"), 0);
  EXPECT_TRUE(cached.body.empty());
  // The auth service is down in this test: the edge says so, it does not hang.
  EXPECT_EQ(viaEdge(kDashHost, "/api/auth/session").status, 502);
}

TEST_F(EdgeServiceTest, WebSocketAndGigabyteDownloadSurviveAHundredChanges) {
  TestUpstream a("A"), b("B");
  const std::string id = createRoute("app.test", a.url());
  const std::string other = createRoute("other.test", b.url());
  ASSERT_TRUE(testing::waitUntil([&] { return servedBy("app.test") == "A"; }, 10s));

  asio::io_context ioc;
  websocket::stream<tcp::socket> ws(ioc);
  ws.next_layer().connect({asio::ip::make_address("127.0.0.1"), edgePort});
  setTimeouts(ws.next_layer());
  ws.handshake("app.test", "/ws");
  auto echo = [&](const std::string& text) {
    ws.write(asio::buffer(text));
    boost::beast::flat_buffer buf;
    ws.read(buf);
    return boost::beast::buffers_to_string(buf.data());
  };

  // The download reads half, then waits for every change to be applied
  // before reading the rest: the transfer is provably under way throughout.
  std::atomic<bool> changesDone{false};
  std::atomic<std::uint64_t> received{0};
  std::string gotHash, wantHash;
  std::thread download([&] {
    tcp::socket s(ioc);
    s.connect({asio::ip::make_address("127.0.0.1"), edgePort});
    setTimeouts(s);
    const std::string req = "GET /bytes?n=" + std::to_string(kGiB) + " HTTP/1.1\r\nHost: app.test\r\n\r\n";
    asio::write(s, asio::buffer(req));
    boost::beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> p;
    p.body_limit(~std::uint64_t{0});
    http::read_header(s, buffer, p);
    testing::Sha256Stream got;
    std::vector<char> chunk(kChunk);
    while (!p.is_done()) {
      if (received >= kGiB / 2) testing::waitUntil([&] { return changesDone.load(); }, 120s);
      p.get().body().data = chunk.data();
      p.get().body().size = chunk.size();
      boost::system::error_code ec;
      http::read_some(s, buffer, p, ec);
      if (ec && ec != http::error::need_buffer) break;
      const std::size_t n = chunk.size() - p.get().body().size;
      got.update(chunk.data(), n);
      received += n;
    }
    gotHash = got.hex();
  });
  ASSERT_TRUE(testing::waitUntil([&] { return received >= kGiB / 2; }, 60s));

  for (int i = 0; i < 100; ++i) {
    // Every tenth change rewrites the upstream list of the route both
    // connections are on; the rest touch another route.
    const auto r = i % 10 == 0
                       ? api("PATCH", "/api/routes/" + id,
                             R"({"upstreams":[")" + a.url() + (i % 20 == 0 ? R"(",")" + b.url() : std::string()) + R"("]})")
                       : api("PATCH", "/api/routes/" + other, R"({"name":"other-)" + std::to_string(i) + R"("})");
    ASSERT_EQ(r.status, 200) << r.body;
    if (i % 10 == 9) {
      EXPECT_EQ(echo("ping " + std::to_string(i)), "ping " + std::to_string(i));
    }
  }
  const auto applied = api("GET", "/api/routes/status").json()["revision"].get<std::uint64_t>();
  ASSERT_TRUE(testing::waitUntil([&] { return edgeStatus()["revision"].get<std::uint64_t>() >= applied; }, 10s));
  EXPECT_EQ(echo("after every change"), "after every change");
  changesDone = true;
  download.join();

  testing::Sha256Stream want;
  std::vector<char> chunk(kChunk);
  for (std::uint64_t off = 0; off < kGiB; off += kChunk) {
    testing::fillPattern(chunk.data(), kChunk, off);
    want.update(chunk.data(), kChunk);
  }
  EXPECT_EQ(received.load(), kGiB);
  EXPECT_EQ(gotHash, want.hex());
  ws.close(websocket::close_code::normal);
}

TEST_F(EdgeServiceTest, GigabyteChunkedUploadStreamsWithEdgeRssUnder64MiB) {
  TestUpstream a("A");
  createRoute("app.test", a.url());
  ASSERT_TRUE(testing::waitUntil([&] { return servedBy("app.test") == "A"; }, 10s));

  asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect({asio::ip::make_address("127.0.0.1"), edgePort});
  setTimeouts(s);
  asio::write(s, asio::buffer(std::string("POST /upload HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n")));
  testing::Sha256Stream sent;
  std::vector<char> chunk(kChunk);
  char size[32];
  for (std::uint64_t off = 0; off < kGiB; off += kChunk) {
    testing::fillPattern(chunk.data(), kChunk, off);
    sent.update(chunk.data(), kChunk);
    const int n = std::snprintf(size, sizeof size, "%zx\r\n", kChunk);
    std::array<asio::const_buffer, 3> frame{asio::buffer(size, n), asio::buffer(chunk), asio::buffer("\r\n", 2)};
    asio::write(s, frame);
  }
  asio::write(s, asio::buffer(std::string("0\r\n\r\n")));
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(s, buffer, res);
  ASSERT_EQ(res.result_int(), 200u);
  const auto body = nlohmann::json::parse(res.body());
  EXPECT_EQ(body["bytes"], kGiB);
  EXPECT_EQ(body["sha256"], sent.hex());
  // The edge is its own process: its peak RSS over its whole life is the bound.
  const long peakKb = statusKb(edge.process.pid(), "VmHWM");
  std::printf("[ info     ] 1 GiB chunked upload through proxyos-edge: peak RSS %ld KiB\n", peakKb);
  EXPECT_GT(peakKb, 0);
  EXPECT_LT(peakKb, 64 * 1024);
}

}  // namespace
}  // namespace proxyos
