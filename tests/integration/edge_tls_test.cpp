// HTTPS on the edge as an operator runs it (issue #7): the real binaries,
// real NATS, Redis and route-registry, curl as the client, and Debian's
// pebble as the ACME CA. Covers the internal CA (exact and wildcard names,
// the root surviving restarts), forceHttps with the challenge path exempt,
// unknown SNI, ACME with three edges ordering exactly once, and a CA that is
// down.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <fstream>
#include <optional>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "shared/core/url.h"
#include "shared/redis/redis_client.h"
#include "shared/tls/pki.h"
#include "tests/support/http_client.h"
#include "tests/support/loopback.h"
#include "tests/support/pebble.h"
#include "tests/support/process.h"
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
namespace asio = boost::asio;

const std::string kSecret = "0123456789abcdef0123456789abcdef";
const std::string kDashHost = "dash.tls.test";

struct CurlResult {
  int exitCode = -1;
  int status = 0;
  std::string body;
};

/// The leaf certificate an edge presents for `sni` (no verification), PEM;
/// "" when the handshake fails.
std::string peerCertificate(std::uint16_t port, const std::string& sni) {
  asio::io_context ioc;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_verify_mode(asio::ssl::verify_none);
  asio::ssl::stream<asio::ip::tcp::socket> s(ioc, ctx);
  boost::system::error_code ec;
  s.next_layer().connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return "";
  if (!sni.empty()) SSL_set_tlsext_host_name(s.native_handle(), sni.c_str());
  timeval tv{10, 0};
  setsockopt(s.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  s.handshake(asio::ssl::stream_base::client, ec);
  if (ec) return "";
  X509* cert = SSL_get1_peer_certificate(s.native_handle());
  if (!cert) return "";
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  X509_free(cert);
  return pem;
}

/// Handshakes twice with TLS 1.2 for `sni`, offering the first session on
/// the second connection: whether the edge resumed it. nullopt when a
/// handshake failed.
std::optional<bool> resumesSession(std::uint16_t port, const std::string& sni) {
  asio::io_context ioc;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_verify_mode(asio::ssl::verify_none);
  SSL_CTX_set_max_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  SSL_SESSION* first = nullptr;
  std::optional<bool> reused;
  for (int round = 0; round < 2; ++round) {
    asio::ssl::stream<asio::ip::tcp::socket> s(ioc, ctx);
    boost::system::error_code ec;
    s.next_layer().connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    SSL_set_tlsext_host_name(s.native_handle(), sni.c_str());
    if (first) SSL_set_session(s.native_handle(), first);
    if (!ec) s.handshake(asio::ssl::stream_base::client, ec);
    if (ec) break;
    if (round == 0)
      first = SSL_get1_session(s.native_handle());
    else
      reused = SSL_session_reused(s.native_handle()) == 1;
    s.shutdown(ec);
  }
  if (first) SSL_SESSION_free(first);
  return reused;
}

/// Whether a client limited to TLS 1.1 completes a handshake.
bool acceptsTls11(std::uint16_t port, const std::string& sni) {
  asio::io_context ioc;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_verify_mode(asio::ssl::verify_none);
  SSL_CTX_set_security_level(ctx.native_handle(), 0);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_VERSION);
  SSL_CTX_set_max_proto_version(ctx.native_handle(), TLS1_1_VERSION);
  asio::ssl::stream<asio::ip::tcp::socket> s(ioc, ctx);
  boost::system::error_code ec;
  s.next_layer().connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  SSL_set_tlsext_host_name(s.native_handle(), sni.c_str());
  if (!ec) s.handshake(asio::ssl::stream_base::client, ec);
  return !ec;
}

class EdgeTlsTest : public ::testing::Test {
 protected:
  struct Edge {
    std::string node;
    std::uint16_t httpPort = 0;
    std::uint16_t httpsPort = 0;
    std::uint16_t adminPort = 0;
    int starts = 0;
    testing::RunningService service;
  };

  void SetUp() override {
    nats.start();
    redis.start();
    admin = testing::issueSessionCookie(redis.url(), kSecret, session::Role::Admin, "admin");
    // Tests never talk to Let's Encrypt: a CA on a closed port unless a test
    // brings pebble.
    edgeEnv = {{"PROXYOS_ACME_DIRECTORY", "https://127.0.0.1:" + std::to_string(testing::freePort()) + "/dir"}};
  }

  std::map<std::string, std::string> env() const {
    return {{"PROXYOS_SECRET", kSecret},
            {"PROXYOS_NATS_URL", nats.url()},
            {"PROXYOS_REDIS_URL", redis.url()},
            {"PROXYOS_URL", "http://" + kDashHost},
            {"PROXYOS_AUTH_URL", "http://127.0.0.1:1"},
            {"PROXYOS_SSO_URL", "http://127.0.0.1:1"},
            {"PROXYOS_LOG_FORMAT", "json"}};
  }

  void startRegistry() {
    registry = testing::startService(std::string(PROXYOS_BIN_DIR) + "/proxyos-route-registry", env(),
                                     dir.path() + "/registry.log");
  }

  Edge& addEdge(const std::string& node, std::uint16_t httpPort = 0) {
    auto e = std::make_unique<Edge>();
    e->node = node;
    e->httpPort = httpPort ? httpPort : testing::freePort();
    e->httpsPort = testing::freePort();
    e->adminPort = testing::freePort();
    edges.push_back(std::move(e));
    return *edges.back();
  }

  void startEdge(Edge& edge) {
    auto e = env();
    for (const auto& [k, v] : edgeEnv) e[k] = v;
    e["PROXYOS_DATA_DIR"] = dir.path() + "/" + edge.node;
    e["PROXYOS_NODE_ID"] = edge.node;
    e["PROXYOS_EDGE_HTTP_LISTEN"] = "127.0.0.1:" + std::to_string(edge.httpPort);
    e["PROXYOS_EDGE_HTTPS_LISTEN"] = "127.0.0.1:" + std::to_string(edge.httpsPort);
    e["PROXYOS_EDGE_THREADS"] = "2";
    e["PROXYOS_EDGE_ACCESS_LOG"] = "off";
    e["PROXYOS_REGISTRY_URL"] = registry.base;
    edge.service = testing::startService(std::string(PROXYOS_BIN_DIR) + "/proxyos-edge", e,
                                         dir.path() + "/" + edge.node + "-" + std::to_string(edge.starts++) + ".log",
                                         edge.adminPort, "PROXYOS_EDGE_ADMIN_LISTEN");
  }

  void stopEdge(Edge& edge) { edge.service.process.terminate(); }

  std::string createRoute(const std::string& json) {
    const auto r = httpRequest("POST", registry.base + "/api/routes", json,
                               {{"Cookie", admin}, {"Origin", "http://" + kDashHost}});
    EXPECT_EQ(r.status, 201) << r.body;
    return r.status == 201 ? r.json()["id"].get<std::string>() : "";
  }

  /// curl over HTTPS to `host` at the edge's HTTPS port (resolved to
  /// 127.0.0.1), trusting only `caFile`; with `cookie` as the Cookie header.
  CurlResult curlHttps(const Edge& edge, const std::string& host, const std::string& caFile,
                       const std::string& path = "/headers", const std::string& cookie = "") {
    const std::string out = dir.path() + "/curl-" + std::to_string(curls++);
    const std::string port = std::to_string(edge.httpsPort);
    std::vector<std::string> args{"-sS",   "--max-time", "10", "--cacert", caFile, "--resolve",
                                  host + ":" + port + ":127.0.0.1", "-o", out + ".body", "-w", "%{http_code}"};
    if (!cookie.empty()) args.insert(args.end(), {"-H", "Cookie: " + cookie});
    args.push_back("https://" + host + ":" + port + path);
    auto child = testing::ChildProcess::start("curl", args, {}, out + ".log");
    CurlResult r;
    r.exitCode = child.wait(20s).value_or(-1);
    std::ifstream log(out + ".log");
    std::stringstream text;
    text << log.rdbuf();
    const std::string all = text.str();
    std::smatch m;
    if (std::regex_search(all, m, std::regex("([0-9]{3})$"))) r.status = std::stoi(m[1]);
    std::ifstream body(out + ".body");
    std::stringstream b;
    b << body.rdbuf();
    r.body = b.str();
    return r;
  }

  HttpResult plainHttp(const Edge& edge, const std::string& host, const std::string& path) {
    return httpRequest("GET", "http://127.0.0.1:" + std::to_string(edge.httpPort) + path, "",
                       {{"Host", host + ":" + std::to_string(edge.httpPort)}});
  }

  /// The internal root, downloaded through the system route as a user would.
  std::string downloadRoot(const Edge& edge, const std::string& name) {
    HttpResult r;
    testing::waitUntil(
        [&] {
          r = httpRequest("GET", "http://127.0.0.1:" + std::to_string(edge.httpPort) + "/api/edge/ca.pem", "",
                          {{"Host", kDashHost}});
          return r.status == 200;
        },
        20s, 100ms);
    EXPECT_EQ(r.status, 200) << r.body;
    const std::string path = dir.path() + "/" + name;
    std::ofstream(path) << r.body;
    return path;
  }

  nlohmann::json status(const Edge& edge) { return httpRequest("GET", edge.service.base + "/status").json(); }

  double metric(const Edge& edge, const std::string& name) {
    const auto r = httpRequest("GET", edge.service.base + "/metrics");
    std::smatch m;
    if (std::regex_search(r.body, m, std::regex("\n" + name + "\\{[^}]*\\} ([0-9.e+]+)"))) return std::stod(m[1]);
    return -1;
  }

  testing::TempDir dir;
  testing::NatsServer nats;
  testing::RedisServer redis;
  std::string admin;
  testing::RunningService registry;
  std::vector<std::unique_ptr<Edge>> edges;
  std::map<std::string, std::string> edgeEnv;
  int curls = 0;
};

TEST_F(EdgeTlsTest, InternalCaServesExactAndWildcardNamesAndSurvivesRestarts) {
  testing::TestUpstream upstream("tls-upstream");
  startRegistry();
  Edge& a = addEdge("edge-a");
  Edge& b = addEdge("edge-b");
  startEdge(a);
  startEdge(b);
  createRoute(R"({"name":"tls","domains":["app.tls.test","*.wild.tls.test"],"tlsMode":"internal","upstreams":[")" +
              upstream.url() + R"("]})");
  const std::string root = downloadRoot(a, "root-a.pem");
  ASSERT_EQ(testing::readFile(root), testing::readFile(downloadRoot(b, "root-b.pem"))) << "every edge must serve the same root";

  for (Edge* e : {&a, &b}) {
    CurlResult r;
    ASSERT_TRUE(testing::waitUntil([&] { return (r = curlHttps(*e, "app.tls.test", root)).status == 200; }, 20s, 200ms))
        << "curl exit " << r.exitCode << " status " << r.status << " " << testing::readFile(e->service.log);
    const auto headers = nlohmann::json::parse(r.body)["headers"];
    EXPECT_EQ(headers["x-forwarded-proto"], "https");
    EXPECT_EQ(curlHttps(*e, "x.wild.tls.test", root).status, 200);
    EXPECT_NE(curlHttps(*e, "a.b.wild.tls.test", root).exitCode, 0) << "a wildcard covers one label only";
  }
  EXPECT_EQ(resumesSession(a.httpsPort, "app.tls.test"), std::optional<bool>(true)) << "session resumption";
  EXPECT_FALSE(acceptsTls11(a.httpsPort, "app.tls.test")) << "TLS 1.2 and 1.3 only";
  const auto exact = tls::inspectCertificate(peerCertificate(a.httpsPort, "app.tls.test"));
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact.value().dnsNames, std::vector<std::string>{"app.tls.test"});
  EXPECT_FALSE(exact.value().isCa);
  const auto wild = tls::inspectCertificate(peerCertificate(a.httpsPort, "y.wild.tls.test"));
  ASSERT_TRUE(wild.ok());
  EXPECT_EQ(wild.value().dnsNames, std::vector<std::string>{"*.wild.tls.test"});

  // Every edge restarts: the root is the one in proxyos-certs, not a new one.
  stopEdge(a);
  stopEdge(b);
  startEdge(a);
  startEdge(b);
  EXPECT_EQ(testing::readFile(downloadRoot(a, "root-a2.pem")), testing::readFile(root));
  EXPECT_EQ(testing::readFile(downloadRoot(b, "root-b2.pem")), testing::readFile(root));
  CurlResult again;
  EXPECT_TRUE(testing::waitUntil([&] { return (again = curlHttps(b, "app.tls.test", root)).status == 200; }, 20s, 200ms))
      << again.exitCode;
  const auto st = status(a);
  ASSERT_TRUE(st["certificates"].is_array()) << st.dump();
  bool listed = false;
  for (const auto& c : st["certificates"])
    if (c["names"].dump().find("app.tls.test") != std::string::npos) {
      listed = true;
      EXPECT_EQ(c["source"], "internal") << c.dump();
      EXPECT_FALSE(c["notAfter"].get<std::string>().empty());
    }
  EXPECT_TRUE(listed) << st.dump();
}

TEST_F(EdgeTlsTest, AnHttpsDashboardUrlGivesTheDashboardHostACertificate) {
  startRegistry();
  edgeEnv["PROXYOS_URL"] = "https://" + kDashHost;  // PROXYOS_TLS_MODE defaults to internal
  Edge& a = addEdge("edge-a");
  startEdge(a);
  const std::string root = downloadRoot(a, "root.pem");
  CurlResult r;
  ASSERT_TRUE(testing::waitUntil([&] { return (r = curlHttps(a, kDashHost, root, "/api/edge/status", admin)).status == 200; },
                                 20s, 200ms))
      << "curl exit " << r.exitCode << " " << testing::readFile(a.service.log);
  const auto status = nlohmann::json::parse(r.body);
  bool listed = false;
  for (const auto& c : status["certificates"])
    if (c["names"].dump().find(kDashHost) != std::string::npos) listed = c["source"] == "internal";
  EXPECT_TRUE(listed) << r.body;
}

TEST_F(EdgeTlsTest, ForceHttpsRedirectsButNotTheChallengeAndUnknownSniFailsAlone) {
  testing::TestUpstream upstream("tls-upstream");
  startRegistry();
  Edge& a = addEdge("edge-a");
  startEdge(a);
  createRoute(R"({"name":"forced","domains":["force.tls.test"],"tlsMode":"internal","forceHttps":true,"upstreams":[")" +
              upstream.url() + R"("]})");
  // An auto route whose CA is unreachable: it never gets an ACME certificate.
  createRoute(R"({"name":"auto","domains":["auto.tls.test"],"tlsMode":"auto","forceHttps":true,"upstreams":[")" +
              upstream.url() + R"("]})");
  createRoute(R"({"name":"plain","domains":["plain.tls.test"],"upstreams":[")" + upstream.url() + R"("]})");
  const std::string root = downloadRoot(a, "root.pem");

  HttpResult r;
  ASSERT_TRUE(testing::waitUntil([&] { return (r = plainHttp(a, "force.tls.test", "/x?y=1")).status == 308; }, 20s,
                                 100ms))
      << r.status << " " << r.body;
  EXPECT_EQ(r.header("location"), "https://force.tls.test:" + std::to_string(a.httpsPort) + "/x?y=1");
  // The redirect leads somewhere that works.
  EXPECT_EQ(curlHttps(a, "force.tls.test", root, "/x?y=1").status, 200);
  // Without a port in Host the default ports are meant.
  const auto noPort =
      httpRequest("GET", "http://127.0.0.1:" + std::to_string(a.httpPort) + "/p", "", {{"Host", "force.tls.test"}});
  EXPECT_EQ(noPort.header("location"), "https://force.tls.test/p");
  EXPECT_TRUE(testing::waitUntil([&] { return plainHttp(a, "plain.tls.test", "/headers").status == 200; }, 20s, 100ms))
      << "routes without TLS are not redirected";

  // The challenge path of an auto route is answered over plain HTTP, from
  // Redis, whichever edge stored it; never redirected.
  redis::Client client({parseRedisUrl(redis.url()).value()});
  ASSERT_TRUE(client.command({"SET", "proxyos:acme:challenge:tok-123_A", "tok-123_A.thumb"}).ok());
  const auto challenge = plainHttp(a, "auto.tls.test", "/.well-known/acme-challenge/tok-123_A");
  EXPECT_EQ(challenge.status, 200);
  EXPECT_EQ(challenge.body, "tok-123_A.thumb");
  EXPECT_EQ(plainHttp(a, "auto.tls.test", "/.well-known/acme-challenge/unknown").status, 404);
  // auto without its ACME certificate: still answered over HTTP, not sent to
  // an HTTPS whose certificate browsers would reject.
  EXPECT_EQ(plainHttp(a, "auto.tls.test", "/headers").status, 200);

  // Unknown names fail the handshake; the known name keeps working.
  EXPECT_EQ(peerCertificate(a.httpsPort, "unknown.tls.test"), "");
  EXPECT_EQ(peerCertificate(a.httpsPort, ""), "") << "no SNI: no certificate";
  EXPECT_NE(curlHttps(a, "unknown.tls.test", root).exitCode, 0);
  EXPECT_EQ(curlHttps(a, "force.tls.test", root).status, 200);
}

TEST_F(EdgeTlsTest, ThreeEdgesOrderOneAcmeCertificateFromPebbleAndKeepItAcrossRestarts) {
  testing::TestUpstream upstream("acme-upstream");
  startRegistry();
  // Pebble validates HTTP-01 at 127.0.0.1:<httpPort>: edge-a's HTTP listener.
  Edge& a = addEdge("edge-a");
  testing::Pebble pebble(a.httpPort);
  pebble.start();
  edgeEnv = {{"PROXYOS_ACME_DIRECTORY", pebble.directoryUrl()}, {"PROXYOS_ACME_CA_ROOT", pebble.caRootFile()}};
  Edge& b = addEdge("edge-b");
  Edge& c = addEdge("edge-c");
  for (Edge* e : {&a, &b, &c}) startEdge(*e);
  createRoute(R"({"name":"acme","domains":["acme.proxyos.test"],"tlsMode":"auto","upstreams":[")" + upstream.url() +
              R"("]})");

  const std::string pebbleRoot = dir.path() + "/pebble-root.pem";
  std::ofstream(pebbleRoot) << pebble.issuingRoot();
  const auto start = std::chrono::steady_clock::now();
  for (Edge* e : {&a, &b, &c}) {
    CurlResult r;
    EXPECT_TRUE(testing::waitUntil(
        [&] { return (r = curlHttps(*e, "acme.proxyos.test", pebbleRoot)).status == 200; },
        30s - std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start), 250ms))
        << e->node << ": curl exit " << r.exitCode << "\n"
        << status(*e).dump() << "\n"
        << pebble.logTail();
  }
  double orders = 0;
  for (Edge* e : {&a, &b, &c}) orders += metric(*e, "proxyos_edge_acme_orders_total");
  EXPECT_EQ(orders, 1) << "exactly one edge orders";
  const auto served = tls::inspectCertificate(peerCertificate(c.httpsPort, "acme.proxyos.test"));
  ASSERT_TRUE(served.ok());
  EXPECT_EQ(served.value().dnsNames, std::vector<std::string>{"acme.proxyos.test"});
  const auto statusB = status(b);
  for (const auto& cert : statusB["certificates"]) {
    if (cert["names"].dump().find("acme.proxyos.test") != std::string::npos) {
      EXPECT_EQ(cert["source"], "acme");
    }
  }

  // Restarting every edge loads the certificate from proxyos-certs: no order.
  for (Edge* e : {&a, &b, &c}) stopEdge(*e);
  for (Edge* e : {&a, &b, &c}) startEdge(*e);
  for (Edge* e : {&a, &b, &c}) {
    CurlResult r;
    EXPECT_TRUE(testing::waitUntil(
        [&] { return (r = curlHttps(*e, "acme.proxyos.test", pebbleRoot)).status == 200; }, 15s, 250ms))
        << e->node << ": curl exit " << r.exitCode;
    EXPECT_EQ(metric(*e, "proxyos_edge_acme_orders_total"), 0) << e->node;
  }
}

TEST_F(EdgeTlsTest, AnUnreachableAcmeCaLeavesTheRouteServedAndBacksOff) {
  testing::TestUpstream upstream("acme-upstream");
  startRegistry();
  edgeEnv = {{"PROXYOS_ACME_DIRECTORY", "https://127.0.0.1:" + std::to_string(testing::freePort()) + "/dir"}};
  Edge& a = addEdge("edge-a");
  startEdge(a);
  createRoute(R"({"name":"acme","domains":["down.proxyos.test"],"tlsMode":"auto","upstreams":[")" + upstream.url() +
              R"("]})");
  const std::string root = downloadRoot(a, "root.pem");
  // HTTPS answers with the internal certificate; HTTP keeps working.
  CurlResult r;
  ASSERT_TRUE(testing::waitUntil([&] { return (r = curlHttps(a, "down.proxyos.test", root)).status == 200; }, 20s,
                                 200ms))
      << r.exitCode;
  EXPECT_EQ(plainHttp(a, "down.proxyos.test", "/headers").status, 200);

  nlohmann::json cert;
  ASSERT_TRUE(testing::waitUntil(
      [&] {
        const auto st = status(a);
        for (const auto& c : st["certificates"])
          if (c["names"].dump().find("down.proxyos.test") != std::string::npos && c["lastError"].is_string())
            cert = c;
        return !cert.is_null();
      },
      20s, 200ms))
      << status(a).dump();
  EXPECT_EQ(cert["source"], "internal");
  EXPECT_FALSE(cert["nextAttemptAt"].is_null()) << cert.dump();
  // Back-off: the first retry waits at least 30 s, so five seconds later
  // there has been one attempt, not a loop.
  std::this_thread::sleep_for(5s);
  EXPECT_EQ(metric(a, "proxyos_edge_acme_order_failures_total"), 1);
  EXPECT_LE(metric(a, "proxyos_edge_acme_orders_total"), 1);
}

}  // namespace
}  // namespace proxyos
