// The edge's forward-auth SSO step (ARCHITECTURE.md §2 step 4) end to end: a
// ProxyServer in this process on port 0, a real forward-auth provider and a
// recording upstream (tests/support/test_forward_auth.h), real sockets, and
// Caddy's forward_auth as the reference for the differential test.
#include <gtest/gtest.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "services/edge-proxy/proxy_server.h"
#include "services/edge-proxy/sso_context.h"
#include "tests/support/loopback.h"
#include "tests/support/in_process_edge.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_forward_auth.h"
#include "tests/support/wait.h"

namespace {

using namespace proxyos;
using namespace proxyos::edge;
using proxyos::testing::RecordedRequest;
using proxyos::testing::RecordingUpstream;
using proxyos::testing::TestForwardAuth;
using proxyos::testing::waitUntil;
namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using Headers = std::vector<std::pair<std::string, std::string>>;

// The identity headers compared between the edge and Caddy: the three the
// provider answers. (A forged X-Auth-User, the built-in provider's header, is
// in the corpus too but not compared: Caddy passes it on, the edge removes the
// built-in X-Auth-* names on every SSO route — ForgedIdentityNeverReachesTheUpstream.)
const std::vector<std::string> kIdentityNames = {"Remote-User", "Remote-Email", "Remote-Groups"};
constexpr const char* kAbsent = "(absent)";

nlohmann::json autheliaProvider(const std::string& forwardAuthUrl, int timeoutMs = 500, int cacheTtlSeconds = 0) {
  return {{"name", "Authelia"},
          {"type", "authelia"},
          {"forwardAuthUrl", forwardAuthUrl},
          {"loginUrl", "https://login.test/"},
          {"authResponseHeaders", {"Remote-User", "Remote-Email", "Remote-Groups"}},
          {"groupsHeader", "Remote-Groups"},
          {"groupsSeparator", ","},
          {"timeoutMs", timeoutMs},
          {"cacheTtlSeconds", cacheTtlSeconds}};
}

nlohmann::json authentikProvider(const std::string& forwardAuthUrl) {
  return {{"name", "Authentik"},
          {"type", "authentik"},
          {"forwardAuthUrl", forwardAuthUrl},
          {"loginUrl", "https://authentik.test/"},
          {"authResponseHeaders", {"X-authentik-username", "X-authentik-email", "X-authentik-groups"}},
          {"groupsHeader", "X-authentik-groups"},
          {"groupsSeparator", "|"},
          {"timeoutMs", 500}};
}

model::Route ssoRoute(const std::string& id, const std::string& host, const std::string& upstream,
                      const std::string& providerId, std::vector<std::string> groups = {}) {
  model::Route r;
  r.id = id;
  r.domains = {host};
  r.upstreams = {upstream};
  r.ssoEnabled = true;
  r.ssoProviderId = providerId;
  r.accessosGroups = std::move(groups);
  return r;
}

void setTimeouts(tcp::socket& s) { proxyos::testing::setSocketTimeouts(s, 15s); }

/// A blocking client connection (to the edge or to Caddy).
class Conn {
 public:
  explicit Conn(std::uint16_t port) : socket_(ioc_) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
    setTimeouts(socket_);
  }
  void send(std::string_view raw) { asio::write(socket_, asio::buffer(raw)); }
  http::response<http::string_body> request(const std::string& method, const std::string& target,
                                            const Headers& headers = {}, const std::string& body = "",
                                            const std::string& host = "app.test") {
    std::string raw = method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n";
    for (const auto& [k, v] : headers) raw += k + ": " + v + "\r\n";
    if (!body.empty() || method == "POST") raw += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    send(raw + "\r\n" + body);
    return read();
  }
  http::response<http::string_body> get(const std::string& target, const Headers& headers = {},
                                        const std::string& host = "app.test") {
    return request("GET", target, headers, "", host);
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
  tcp::socket& socket() { return socket_; }
  boost::beast::flat_buffer& buffer() { return buffer_; }
  /// True when the peer closes the connection (EOF or reset).
  bool closedByPeer() {
    char c;
    boost::system::error_code ec;
    socket_.read_some(asio::buffer(&c, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

/// A WebSocket handshake with `headers` added, written by hand so that a
/// refusal's status and Location can be read; then one masked text frame and
/// its echo ("" unless the handshake succeeded).
struct WsResult {
  int status = 0;
  std::string location;
  std::string echo;
};
WsResult webSocket(std::uint16_t port, const std::string& target, const Headers& headers,
                   const std::string& host = "app.test") {
  Conn conn(port);
  Headers all = headers;
  all.insert(all.end(), {{"Upgrade", "websocket"},
                         {"Connection", "Upgrade"},
                         {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                         {"Sec-WebSocket-Version", "13"}});
  const auto res = conn.get(target, all, host);
  WsResult out{static_cast<int>(res.result_int()), std::string(res[http::field::location]), ""};
  if (out.status != 101 || conn.buffer().size() != 0) return out;
  const std::string text = "ping over sso";
  const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
  std::string frame = {static_cast<char>(0x81), static_cast<char>(0x80 | text.size())};
  frame.append(reinterpret_cast<const char*>(mask), 4);
  for (std::size_t i = 0; i < text.size(); ++i) frame += static_cast<char>(text[i] ^ mask[i % 4]);
  boost::system::error_code ec;
  asio::write(conn.socket(), asio::buffer(frame), ec);
  unsigned char head[2] = {0, 0};
  if (!ec) asio::read(conn.socket(), asio::buffer(head), ec);
  if (ec || head[0] != 0x81 || head[1] >= 126) return out;  // an unmasked short text frame expected
  std::string echo(head[1], '\0');
  asio::read(conn.socket(), asio::buffer(echo), ec);
  if (!ec) out.echo = echo;
  return out;
}

/// Caddy 2 (the Debian package) with forward_auth in front of `upstreamPort`.
class CaddyForwardAuth {
 public:
  CaddyForwardAuth(std::uint16_t authPort, std::uint16_t upstreamPort)
      : process_(spec(authPort, upstreamPort, home_.path())) {
    process_.start();
  }
  std::uint16_t port() const { return process_.port(); }
  std::string logTail() const { return process_.logTail(); }

 private:
  static proxyos::testing::ServerProcess::Spec spec(std::uint16_t authPort, std::uint16_t upstreamPort,
                                                    const std::string& home) {
    proxyos::testing::ServerProcess::Spec s;
    s.name = "caddy";
    s.binary = "caddy";
    s.args = [authPort, upstreamPort](const std::vector<std::uint16_t>& ports, const std::string& dir) {
      const std::string file = dir + "/Caddyfile";
      std::ofstream(file) << "{\n\tadmin off\n\tauto_https off\n}\n"
                          << "http://:" << ports[0] << " {\n"
                          << "\tforward_auth 127.0.0.1:" << authPort << " {\n"
                          << "\t\turi /auth\n"
                          << "\t\tcopy_headers Remote-User Remote-Email Remote-Groups\n"
                          << "\t}\n"
                          << "\treverse_proxy 127.0.0.1:" << upstreamPort << "\n"
                          << "}\n";
      return std::vector<std::string>{"run", "--config", file, "--adapter", "caddyfile"};
    };
    s.ready = [](const std::vector<std::uint16_t>& ports, pid_t) {
      // Any answer through Caddy names it; a stranger on the port does not.
      const auto reply = proxyos::testing::loopbackRoundTrip(
          ports[0], "GET /probe HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n", 1s);
      return reply && reply->find("Server: Caddy") != std::string::npos;
    };
    // Caddy keeps its data and autosaved config under $HOME / XDG dirs.
    s.env = {{"HOME", home}, {"XDG_DATA_HOME", home + "/data"}, {"XDG_CONFIG_HOME", home + "/config"}};
    return s;
  }

  proxyos::testing::TempDir home_;
  proxyos::testing::ServerProcess process_;
};

// Every test runs on an io_context run by two threads and on one built for a
// single thread (as edge_proxy_test does).
class SsoForwardAuthTest : public ::testing::TestWithParam<int> {
 protected:
  void TearDown() override {
    EXPECT_TRUE(edge_.stop()) << "connections still open 10 s after stop()";
    sso_.reset();
  }

  /// `withSsoContext`: the shared SSO state the allow cache lives in.
  void startProxy(bool withSsoContext = false) {
    if (std::getenv("EDGE_TEST_DEBUG")) spdlog::set_level(spdlog::level::debug);
    if (withSsoContext) {
      // The built-in provider is not used here: its Redis is never asked.
      redis::ClientOptions redisOptions;
      redisOptions.endpoint.port = proxyos::testing::freePort();
      authority_ = std::make_unique<RedisSessionAuthority>(redisOptions, session::SigningKeys("test-secret", {}),
                                                           SystemClock::instance());
      sso_ = std::make_unique<SsoContext>(*authority_, SystemClock::instance(), SsoSettings{}, 1);
    }
    edge_.start(tables_, observer_, system_, ProxyOptions{}, sso_.get());
    port_ = edge_.port();
  }

  void publish(std::vector<model::Route> routes, const std::map<std::string, nlohmann::json>& providers) {
    ConfigSnapshot snapshot;
    snapshot.routes = std::move(routes);
    for (const auto& [id, json] : providers) snapshot.providersJson[id] = json.dump();
    snapshot.revision = ++revision_;
    auto table = RouteTable::build(snapshot, "proxyos.test");
    ASSERT_TRUE(table.ok());
    for (const auto& [id, json] : providers)
      ASSERT_NE(table.value()->provider(id), nullptr) << id << " does not decode";
    tables_.publish(table.value());
  }

  TableHolder tables_;
  NullProxyObserver observer_;
  NotFoundSystemRoute system_;
  std::uint64_t revision_ = 0;
  std::unique_ptr<RedisSessionAuthority> authority_;
  std::unique_ptr<SsoContext> sso_;
  proxyos::testing::InProcessEdge edge_{GetParam()};  // after sso_: stopped before it goes
  std::uint16_t port_ = 0;
};

// ---------------------------------------------------------------------------
// a. Differential against Caddy's forward_auth (Debian's Caddy 2.6.2).
//
// Each case of corpus() goes through the edge and through Caddy, to the same
// provider and the same upstream. Compared: status, Location, Set-Cookie,
// WWW-Authenticate, a relayed denial's body, whether the upstream was reached
// and the Remote-* headers, method, target and body it saw, a WebSocket's
// echo, and the X-Forwarded-* and client fields of the sub-request.
// Differences, each asserted as such:
//   1. deliberate: 401/403 without Location to a browser → ours 302 to
//      loginUrl?rd=<original URL>, Caddy relays the 401/403.
//   2. improvement: an identity header the provider omits is absent upstream
//      (delete before set); Caddy 2.6.2 replaces the client's value with the
//      literal text "{http.reverse_proxy.header.Remote-Email}".
//   3. deliberate: the sub-request's Host is the provider's authority (the
//      client's host is in X-Forwarded-Host); Caddy keeps the client's Host.
//   4. deliberate: the sub-request has no hop-by-hop fields; Caddy passes a
//      WebSocket's Upgrade and Connection on to the provider.
// Not compared: Caddy's Go transport adds Accept-Encoding: gzip; the edge
// adds Via and X-Request-Id upstream.

/// One request of the corpus. `caddyStatus` and `caddyLocation` differ from
/// ours only for a deliberate difference, which `difference` names.
struct Case {
  std::string name{};
  std::string method{};
  std::string target{};
  Headers headers{};
  std::string body{};
  bool webSocket = false;
  int status = 0;            // ours
  std::string location{};    // ours: "" = none
  std::string user{};        // Remote-User the upstream sees; "" = the upstream is not reached
  int caddyStatus = 0;       // 0 = as ours
  Headers caddyIdentity{};   // identity headers Caddy's upstream sees where they differ from ours
  std::string difference{};  // why ours differs from Caddy ("" = it does not)
};

/// What one server did with one case: its answer, what the upstream saw,
/// and the forward-auth sub-request it sent.
struct Observed {
  int status = 0;
  std::string location;
  std::string setCookie;
  std::string wwwAuthenticate;
  std::string body;  // of a denial (the upstream's answers are not compared)
  std::string wsEcho;
  std::optional<RecordedRequest> upstream;  // nullopt: not reached
  std::optional<RecordedRequest> auth;      // the (last) sub-request
  std::string identity(const std::string& name) const {
    if (!upstream) return "-";
    return upstream->has(name) ? upstream->header(name) : kAbsent;
  }
};

Observed run(std::uint16_t port, const Case& c, const TestForwardAuth& auth, const RecordingUpstream& up) {
  const std::size_t authBefore = auth.requestCount(), upBefore = up.requestCount();
  Observed o;
  if (c.webSocket) {
    const WsResult ws = webSocket(port, c.target, c.headers);
    o.status = ws.status;
    o.location = ws.location;
    o.wsEcho = ws.echo;
  } else {
    Conn conn(port);
    const auto res = conn.request(c.method, c.target, c.headers, c.body);
    o.status = static_cast<int>(res.result_int());
    o.location = std::string(res[http::field::location]);
    o.setCookie = std::string(res[http::field::set_cookie]);
    o.wwwAuthenticate = std::string(res[http::field::www_authenticate]);
    o.body = res.body();
  }
  const auto upNew = up.requestsSince(upBefore);
  const auto authNew = auth.requestsSince(authBefore);
  if (!upNew.empty()) o.upstream = upNew.back();
  if (!authNew.empty()) o.auth = authNew.back();
  return o;
}

std::string rdTo(const std::string& url) { return "https://login.test/?rd=" + TestForwardAuth::urlEncode(url); }

std::vector<Case> corpus() {
  const std::string alice = "session=alice";
  const std::string browser = "text/html,application/xhtml+xml,*/*;q=0.8";
  const std::string deliberateLogin =
      "deliberate: a browser denied without a Location is sent to loginUrl with rd=<original URL> "
      "(ARCHITECTURE.md §2 step 4); Caddy relays the provider's status";
  std::vector<Case> cases = {
      {.name = "no cookie", .method = "GET", .target = "/page", .status = 401},
      {.name = "valid cookie", .method = "GET", .target = "/page", .headers = {{"Cookie", alice}}, .status = 200,
       .user = "alice"},
      {.name = "valid cookie + forged identity",
       .method = "GET",
       .target = "/page",
       .headers = {{"Cookie", alice},
                   {"X-Auth-User", "mallory"},
                   {"Remote-User", "mallory"},
                   {"Remote-Groups", "admins,root"}},
       .status = 200,
       .user = "alice"},
      {.name = "forged identity, no cookie",
       .method = "GET",
       .target = "/page",
       .headers = {{"Remote-User", "alice"}, {"Remote-Groups", "admins"}},
       .status = 401},
      {.name = "provider 302",
       .method = "GET",
       .target = "/page?q=1",
       .headers = {{"Cookie", "session=redirect"}},
       .status = 302,
       .location = rdTo("http://app.test/page?q=1")},
      {.name = "provider 302 to a browser, forged X-Forwarded-*",
       .method = "GET",
       .target = "/page",
       .headers = {{"Cookie", "session=redirect"},
                   {"Accept", browser},
                   {"X-Forwarded-Host", "evil.test"},
                   {"X-Forwarded-Uri", "/evil"},
                   {"X-Forwarded-Proto", "https"}},
       .status = 302,
       .location = rdTo("http://app.test/page")},
      {.name = "401 to a browser",
       .method = "GET",
       .target = "/page?q=1",
       .headers = {{"Accept", browser}},
       .status = 302,
       .location = rdTo("http://app.test/page?q=1"),
       .caddyStatus = 401,
       .difference = deliberateLogin},
      {.name = "401 to an API client",
       .method = "GET",
       .target = "/api/x",
       .headers = {{"Accept", "application/json"}},
       .status = 401},
      {.name = "403 to an API client",
       .method = "GET",
       .target = "/api/x",
       .headers = {{"Cookie", "session=forbidden"}, {"Accept", "*/*"}},
       .status = 403},
      {.name = "403 to a browser",
       .method = "GET",
       .target = "/page",
       .headers = {{"Cookie", "session=forbidden"}, {"Accept", browser}},
       .status = 302,
       .location = rdTo("http://app.test/page"),
       .caddyStatus = 403,
       .difference = deliberateLogin},
      {.name = "WebSocket upgrade, valid cookie",
       .method = "GET",
       .target = "/ws",
       .headers = {{"Cookie", alice}},
       .webSocket = true,
       .status = 101,
       .user = "alice"},
      {.name = "WebSocket upgrade, no cookie", .method = "GET", .target = "/ws", .webSocket = true, .status = 401},
      {.name = "percent-encoded path and query",
       .method = "GET",
       .target = "/a%20b/c?x=1&y=%2F",
       .headers = {{"Cookie", alice}},
       .status = 200,
       .user = "alice"},
      {.name = "POST with a body, valid cookie",
       .method = "POST",
       .target = "/submit",
       .headers = {{"Cookie", alice}, {"Content-Type", "text/plain"}},
       .body = "hello world",
       .status = 200,
       .user = "alice"},
      {.name = "POST with a body, no cookie",
       .method = "POST",
       .target = "/submit",
       .headers = {{"Content-Type", "text/plain"}},
       .body = "hello world",
       .status = 401},
      {.name = "provider omits a forged header (bob + Remote-Email)",
       .method = "GET",
       .target = "/page",
       .headers = {{"Cookie", "session=bob"}, {"Remote-Email", "mallory@evil.test"}},
       .status = 200,
       .user = "bob",
       .caddyIdentity = {{"Remote-Email", "{http.reverse_proxy.header.Remote-Email}"}},
       .difference = "improvement: a header the provider omits is absent (delete before set); Caddy 2.6.2 drops "
                     "the forged value but sends its unreplaced placeholder text instead"}
  };
  return cases;
}

// SSO_DIFF_DUMP=1: every header of both sub-requests and of what the upstream saw.
void dump(const Observed& ours, const Observed& theirs) {
  for (const auto* o : {&ours, &theirs}) {
    const char* who = o == &ours ? "ours " : "caddy";
    std::printf("  %s sub-request:", who);
    if (o->auth)
      for (const auto& [k, v] : o->auth->headers) std::printf(" [%s: %s]", k.c_str(), v.c_str());
    std::printf("\n  %s upstream:   ", who);
    if (o->upstream)
      for (const auto& [k, v] : o->upstream->headers) std::printf(" [%s: %s]", k.c_str(), v.c_str());
    std::printf("\n");
  }
}

TEST_P(SsoForwardAuthTest, DifferentialAgainstCaddyForwardAuth) {
  TestForwardAuth auth;
  RecordingUpstream up;
  publish({ssoRoute("r1", "app.test", up.url(), "p1")}, {{"p1", autheliaProvider(auth.url())}});
  startProxy();
  std::unique_ptr<CaddyForwardAuth> caddy;
  try {
    caddy = std::make_unique<CaddyForwardAuth>(auth.port(), up.port());
  } catch (const std::exception& e) {
    FAIL() << "caddy did not start: " << e.what();
  }

  const auto cases = corpus();
  ASSERT_GE(cases.size(), 12u);
  std::printf("[ table    ] %-52s | %-4s %-5s | %-9s %-9s | %s\n", "case", "ours", "caddy", "ours user", "caddy user",
              "difference");
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Observed ours = run(port_, c, auth, up);
    const Observed theirs = run(caddy->port(), c, auth, up);
    std::printf("[ table    ] %-52s | %-4d %-5d | %-9s %-9s | %s\n", c.name.c_str(), ours.status, theirs.status,
                ours.identity("Remote-User").c_str(), theirs.identity("Remote-User").c_str(),
                c.difference.empty() ? "none" : c.difference.substr(0, c.difference.find(':')).c_str());

    // Ours, as the case says.
    EXPECT_EQ(ours.status, c.status);
    EXPECT_EQ(ours.location, c.location);
    if (c.user.empty()) {
      EXPECT_FALSE(ours.upstream) << "the upstream saw " << ours.upstream->method << " " << ours.upstream->target;
    } else {
      ASSERT_TRUE(ours.upstream);
      EXPECT_EQ(ours.upstream->header("Remote-User"), c.user);
      EXPECT_EQ(ours.upstream->count("Remote-User"), 1);
    }

    // Caddy: the same, except where the case names a deliberate difference.
    const bool loginDifference = c.caddyStatus != 0;
    EXPECT_EQ(theirs.status, loginDifference ? c.caddyStatus : c.status) << "caddy: " << caddy->logTail();
    if (loginDifference) {
      // Ours sends the browser to log in, Caddy relays the provider's
      // denial (and its WWW-Authenticate); neither lets the request through.
      EXPECT_TRUE(theirs.location.empty()) << theirs.location;
      EXPECT_FALSE(theirs.upstream);
      EXPECT_FALSE(ours.upstream);
    } else {
      EXPECT_EQ(ours.location, theirs.location);
      EXPECT_EQ(ours.setCookie, theirs.setCookie);
      EXPECT_EQ(ours.wwwAuthenticate, theirs.wwwAuthenticate);
      EXPECT_EQ(ours.wsEcho, theirs.wsEcho);
      EXPECT_EQ(ours.upstream.has_value(), theirs.upstream.has_value());
      if (!ours.upstream) {
        EXPECT_EQ(ours.body, theirs.body);  // a relayed denial: the provider's own page
      }
      for (const auto& name : kIdentityNames) {
        std::string expected = ours.identity(name);
        for (const auto& [n, v] : c.caddyIdentity)
          if (n == name) expected = v;
        EXPECT_EQ(theirs.identity(name), expected) << name;
      }
      if (ours.upstream && theirs.upstream) {
        EXPECT_EQ(ours.upstream->method, theirs.upstream->method);
        EXPECT_EQ(ours.upstream->target, theirs.upstream->target);
        EXPECT_EQ(ours.upstream->body, theirs.upstream->body);
      }
    }
    if (c.webSocket && c.status == 101) {
      EXPECT_EQ(ours.wsEcho, "ping over sso");
    }
    if (!c.body.empty() && ours.upstream) {
      EXPECT_EQ(ours.upstream->body, c.body);
    }
    if (std::getenv("SSO_DIFF_DUMP")) dump(ours, theirs);

    // The sub-requests tell the provider the same story...
    ASSERT_TRUE(ours.auth);
    ASSERT_TRUE(theirs.auth);
    for (const char* name :
         {"X-Forwarded-Method", "X-Forwarded-Uri", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-For"})
      EXPECT_EQ(ours.auth->header(name), theirs.auth->header(name)) << name;
    for (const auto& [name, value] : c.headers) {
      if (!boost::beast::iequals(name.substr(0, 12), "x-forwarded-")) {
        EXPECT_EQ(ours.auth->header(name), theirs.auth->header(name)) << name;
      }
    }
    EXPECT_EQ(ours.auth->method, "GET");
    EXPECT_EQ(ours.auth->target, "/auth");
    EXPECT_TRUE(ours.auth->body.empty());
    EXPECT_TRUE(theirs.auth->body.empty());
    // ... with two deliberate differences. Host: ours is the provider's own
    // authority (the client's host is in X-Forwarded-Host); Caddy keeps the
    // client's Host. Hop-by-hop fields: ours sends none (ARCHITECTURE.md §2
    // step 4), Caddy passes a WebSocket's Upgrade and Connection on.
    EXPECT_EQ(ours.auth->header("Host"), "127.0.0.1:" + std::to_string(auth.port()));
    EXPECT_EQ(theirs.auth->header("Host"), "app.test");
    for (const char* name : {"Content-Length", "Transfer-Encoding", "Upgrade", "Connection"})
      EXPECT_FALSE(ours.auth->has(name)) << name;
    if (c.webSocket) {
      EXPECT_EQ(theirs.auth->header("Upgrade"), "websocket");
    }
  }
}

// ---------------------------------------------------------------------------
// b. Fail closed.

TEST_P(SsoForwardAuthTest, ProviderDownStallingOrFailingAnswers503AndTheUpstreamSeesNothing) {
  RecordingUpstream up;
  TestForwardAuth stalling, failing;
  stalling.setMode(TestForwardAuth::Mode::Stall);
  failing.setMode(TestForwardAuth::Mode::Error500);
  const std::string down = "http://127.0.0.1:" + std::to_string(proxyos::testing::freePort()) + "/auth";
  auto named = [](nlohmann::json p, const std::string& name) {
    p["name"] = name;
    return p;
  };
  publish({ssoRoute("r-down", "down.test", up.url(), "down"), ssoRoute("r-stall", "stall.test", up.url(), "stall"),
           ssoRoute("r-500", "fail.test", up.url(), "fail")},
          {{"down", named(autheliaProvider(down), "Down Provider")},
           {"stall", named(autheliaProvider(stalling.url(), 300), "Stalling Provider")},
           {"fail", named(autheliaProvider(failing.url()), "Failing Provider")}});
  startProxy();

  struct Probe {
    const char* host;
    const char* providerName;
  };
  for (const Probe& p : {Probe{"down.test", "Down Provider"}, Probe{"stall.test", "Stalling Provider"},
                         Probe{"fail.test", "Failing Provider"}}) {
    SCOPED_TRACE(p.host);
    for (const bool browser : {false, true}) {
      Conn c(port_);
      Headers headers = {{"Cookie", "session=alice"}};
      if (browser) headers.emplace_back("Accept", "text/html");
      const auto start = std::chrono::steady_clock::now();
      const auto res = c.get("/page", headers, p.host);
      const auto elapsed = std::chrono::steady_clock::now() - start;
      EXPECT_EQ(res.result_int(), 503u);
      EXPECT_NE(res.body().find(p.providerName), std::string::npos) << res.body();
      EXPECT_EQ(res.count(http::field::location), 0u);
      if (std::string_view(p.host) == "stall.test") {
        EXPECT_GE(elapsed, 250ms);
        EXPECT_LT(elapsed, 300ms + 700ms) << "timeoutMs 300 plus slack";
      } else {
        EXPECT_LT(elapsed, 2s);
      }
    }
  }
  EXPECT_EQ(stalling.requestCount(), 2u);
  EXPECT_EQ(failing.requestCount(), 2u);
  EXPECT_EQ(up.requestCount(), 0u) << "a request the provider did not allow reached the upstream";
  EXPECT_EQ(up.connectionsAccepted(), 0);
}

TEST_P(SsoForwardAuthTest, ProviderGoingDownAfterServingFailsClosed) {
  RecordingUpstream up;
  TestForwardAuth auth;
  publish({ssoRoute("r1", "app.test", up.url(), "p1")}, {{"p1", autheliaProvider(auth.url())}});
  startProxy();
  Conn c(port_);
  ASSERT_EQ(c.get("/page", {{"Cookie", "session=alice"}}).result_int(), 200u);  // a pooled connection now
  const auto seen = up.requestCount();
  auth.stop();
  const auto res = Conn(port_).get("/page", {{"Cookie", "session=alice"}});
  EXPECT_EQ(res.result_int(), 503u);
  EXPECT_NE(res.body().find("Authelia"), std::string::npos);
  EXPECT_EQ(up.requestCount(), seen);
}

// ---------------------------------------------------------------------------
// c. Groups.

TEST_P(SsoForwardAuthTest, AccessGroupsAdmitMembersOnly) {
  RecordingUpstream up;
  TestForwardAuth authelia;
  TestForwardAuth authentik(TestForwardAuth::Style::Authentik);
  // The Authentik route needs "dev": alice's "admins|dev" has it only when
  // split on '|'.
  publish({ssoRoute("r1", "app.test", up.url(), "authelia", {"admins"}),
           ssoRoute("r2", "ak.test", up.url(), "authentik", {"dev"})},
          {{"authelia", autheliaProvider(authelia.url())}, {"authentik", authentikProvider(authentik.url())}});
  startProxy();
  Conn c(port_);

  auto res = c.get("/page", {{"Cookie", "session=alice"}});
  EXPECT_EQ(res.result_int(), 200u);
  ASSERT_EQ(up.requestCount(), 1u);
  EXPECT_EQ(up.requests().back().header("Remote-Groups"), "admins,dev");

  res = c.get("/page", {{"Cookie", "session=bob"}});
  EXPECT_EQ(res.result_int(), 403u);
  EXPECT_NE(res.body().find("admins"), std::string::npos) << res.body();
  EXPECT_EQ(up.requestCount(), 1u);

  res = c.get("/page", {{"Cookie", "session=alice"}}, "ak.test");
  EXPECT_EQ(res.result_int(), 200u);
  ASSERT_EQ(up.requestCount(), 2u);
  EXPECT_EQ(up.requests().back().header("X-authentik-username"), "alice");
  EXPECT_EQ(up.requests().back().header("X-authentik-groups"), "admins|dev");

  res = c.get("/page", {{"Cookie", "session=bob"}, {"X-authentik-groups", "dev"}}, "ak.test");
  EXPECT_EQ(res.result_int(), 403u) << "a forged groups header must not count";
  EXPECT_NE(res.body().find("dev"), std::string::npos) << res.body();
  EXPECT_EQ(up.requestCount(), 2u);
}

// ---------------------------------------------------------------------------
// d. Keep-alive.

TEST_P(SsoForwardAuthTest, SubRequestsReuseThePoolAndDenialsKeepTheClientConnection) {
  RecordingUpstream up;
  TestForwardAuth auth;
  publish({ssoRoute("r1", "app.test", up.url(), "p1")}, {{"p1", autheliaProvider(auth.url())}});
  startProxy();
  {
    Conn c(port_);
    for (int i = 0; i < 50; ++i) {
      const auto res = c.get("/page?n=" + std::to_string(i), {{"Cookie", "session=alice"}});
      ASSERT_EQ(res.result_int(), 200u) << "request " << i;
    }
  }
  EXPECT_EQ(auth.requestCount(), 50u);
  EXPECT_LE(auth.connectionsAccepted(), 2) << "the forward-auth pool does not keep connections";

  Conn c(port_);
  auto res = c.get("/page", {{"Accept", "application/json"}});
  EXPECT_EQ(res.result_int(), 401u);
  EXPECT_EQ(res.body(), "unauthorized by test-forward-auth");
  EXPECT_NE(res[http::field::connection], "close");
  res = c.get("/page", {{"Accept", "text/html"}});
  EXPECT_EQ(res.result_int(), 302u);
  res = c.get("/page", {{"Cookie", "session=forbidden"}});
  EXPECT_EQ(res.result_int(), 403u);
  res = c.get("/page", {{"Cookie", "session=alice"}});
  EXPECT_EQ(res.result_int(), 200u) << "the connection did not survive the denials";

  // A denied upload is not read: that connection closes.
  Conn upload(port_);
  upload.send("POST /submit HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5\r\n\r\nhello");
  res = upload.read();
  EXPECT_EQ(res.result_int(), 401u);
  EXPECT_EQ(res[http::field::connection], "close");
}

// ---------------------------------------------------------------------------
// e. Delete before set.

TEST_P(SsoForwardAuthTest, ForgedIdentityNeverReachesTheUpstream) {
  RecordingUpstream up;
  TestForwardAuth auth;
  publish({ssoRoute("r1", "app.test", up.url(), "p1")}, {{"p1", autheliaProvider(auth.url())}});
  startProxy();
  Conn c(port_);
  // bob's answer has no Remote-Email: the forged one must go all the same,
  // whatever its case and however many lines it has.
  const auto res = c.get("/page", {{"Cookie", "session=bob"},
                                   {"remote-email", "mallory@evil.test"},
                                   {"REMOTE-EMAIL", "mallory2@evil.test"},
                                   {"Remote-User", "mallory"},
                                   {"remote-user", "mallory"},
                                   {"Remote-Groups", "admins"},
                                   {"X-Auth-User", "mallory"},
                                   {"x-auth-groups", "admins"}});
  ASSERT_EQ(res.result_int(), 200u);
  ASSERT_EQ(up.requestCount(), 1u);
  const auto seen = up.requests().back();
  EXPECT_FALSE(seen.has("Remote-Email")) << seen.header("Remote-Email");
  // The built-in provider's names go on every SSO route (Caddy keeps them):
  // an app once behind the built-in provider may still trust them.
  EXPECT_FALSE(seen.has("X-Auth-User")) << seen.header("X-Auth-User");
  EXPECT_FALSE(seen.has("X-Auth-Groups")) << seen.header("X-Auth-Groups");
  EXPECT_EQ(seen.count("Remote-User"), 1);
  EXPECT_EQ(seen.header("Remote-User"), "bob");
  EXPECT_EQ(seen.count("Remote-Groups"), 1);
  EXPECT_EQ(seen.header("Remote-Groups"), "users");
  // The provider saw the request as sent, forged headers included: it decides.
  ASSERT_EQ(auth.requestCount(), 1u);
  EXPECT_EQ(auth.requests().back().header("Remote-User"), "mallory, mallory");
}

// ---------------------------------------------------------------------------
// f. What the sub-request carries.

TEST_P(SsoForwardAuthTest, SubRequestCarriesNoBodyNorConnectionFields) {
  RecordingUpstream up;
  TestForwardAuth auth;
  publish({ssoRoute("r1", "app.test", up.url(), "p1")}, {{"p1", autheliaProvider(auth.url())}});
  startProxy();

  auto expectClean = [&](const RecordedRequest& r, const std::string& method, const std::string& uri) {
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.target, "/auth");
    EXPECT_EQ(r.header("Host"), "127.0.0.1:" + std::to_string(auth.port()));
    EXPECT_TRUE(r.body.empty());
    for (const char* name :
         {"Content-Length", "Transfer-Encoding", "Upgrade", "Connection", "Keep-Alive", "Expect", "X-Hop"})
      EXPECT_FALSE(r.has(name)) << name << ": " << r.header(name);
    EXPECT_EQ(r.header("X-Forwarded-Method"), method);
    EXPECT_EQ(r.header("X-Forwarded-Proto"), "http");
    EXPECT_EQ(r.header("X-Forwarded-Host"), "app.test");
    EXPECT_EQ(r.header("X-Forwarded-Uri"), uri);
    EXPECT_EQ(r.header("X-Forwarded-For"), "127.0.0.1");
    EXPECT_EQ(r.count("X-Forwarded-For"), 1);
    EXPECT_EQ(r.header("Cookie"), "session=alice");
  };

  {  // POST with Content-Length, a hop-by-hop field named in Connection, a forged X-Forwarded-For
    Conn c(port_);
    c.send(
        "POST /submit?a=1 HTTP/1.1\r\nHost: app.test\r\nCookie: session=alice\r\nConnection: keep-alive, X-Hop\r\n"
        "X-Hop: secret\r\nX-Forwarded-For: 6.6.6.6\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\n"
        "hello world");
    ASSERT_EQ(c.read().result_int(), 200u);
    ASSERT_EQ(auth.requestCount(), 1u);
    expectClean(auth.requests().back(), "POST", "/submit?a=1");
    EXPECT_EQ(up.requests().back().body, "hello world");
  }
  {  // chunked POST with Expect
    Conn c(port_);
    c.send(
        "POST /chunked HTTP/1.1\r\nHost: app.test\r\nCookie: session=alice\r\nTransfer-Encoding: chunked\r\n"
        "Expect: 100-continue\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    auto res = c.read();
    if (res.result_int() == 100) res = c.read();
    ASSERT_EQ(res.result_int(), 200u);
    ASSERT_EQ(auth.requestCount(), 2u);
    expectClean(auth.requests().back(), "POST", "/chunked");
    EXPECT_EQ(up.requests().back().body, "hello");
  }
  {  // WebSocket
    const WsResult ws = webSocket(port_, "/ws?room=1", {{"Cookie", "session=alice"}});
    EXPECT_EQ(ws.status, 101);
    EXPECT_EQ(ws.echo, "ping over sso");
    ASSERT_EQ(auth.requestCount(), 3u);
    expectClean(auth.requests().back(), "GET", "/ws?room=1");
    EXPECT_EQ(up.requests().back().header("Remote-User"), "alice");
    EXPECT_EQ(up.requests().back().header("Upgrade"), "websocket");
  }
}

// ---------------------------------------------------------------------------
// g. The opt-in allow cache.

TEST_P(SsoForwardAuthTest, AllowCacheKeepsAllowsOnlyKeyedByCredentials) {
  RecordingUpstream up;
  TestForwardAuth auth;
  publish({ssoRoute("r1", "app.test", up.url(), "p1")}, {{"p1", autheliaProvider(auth.url(), 500, 60)}});
  startProxy(true);
  Conn c(port_);

  ASSERT_EQ(c.get("/page", {{"Cookie", "session=alice"}}).result_int(), 200u);
  EXPECT_EQ(auth.requestCount(), 1u);
  ASSERT_EQ(c.get("/other", {{"Cookie", "session=alice"}, {"Remote-User", "mallory"}}).result_int(), 200u);
  EXPECT_EQ(auth.requestCount(), 1u) << "an identical allowed request asked the provider again";
  // The cached identity is applied like a fresh one (delete before set).
  ASSERT_EQ(up.requestCount(), 2u);
  EXPECT_EQ(up.requests().back().header("Remote-User"), "alice");
  EXPECT_EQ(up.requests().back().count("Remote-User"), 1);
  EXPECT_EQ(up.requests().back().header("Remote-Groups"), "admins,dev");

  ASSERT_EQ(c.get("/page", {{"Cookie", "session=bob"}}).result_int(), 200u);
  EXPECT_EQ(auth.requestCount(), 2u) << "another cookie must be a miss";
  ASSERT_EQ(c.get("/page", {{"Cookie", "session=alice; theme=dark"}}).result_int(), 200u);
  EXPECT_EQ(auth.requestCount(), 3u) << "another Cookie line must be a miss";
  EXPECT_EQ(up.requests().back().header("Remote-User"), "alice");

  for (int i = 0; i < 2; ++i) EXPECT_EQ(c.get("/page").result_int(), 401u);
  EXPECT_EQ(auth.requestCount(), 5u) << "a denial was cached";
  for (int i = 0; i < 2; ++i) EXPECT_EQ(c.get("/page", {{"Cookie", "session=forbidden"}}).result_int(), 403u);
  EXPECT_EQ(auth.requestCount(), 7u) << "a denial was cached";
  EXPECT_EQ(up.requestCount(), 4u);
}

INSTANTIATE_TEST_SUITE_P(Threading, SsoForwardAuthTest, ::testing::Values(2, 1),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return info.param == 1 ? std::string("OneThread") : std::string("TwoThreads");
                         });

}  // namespace
