// The built-in SSO provider end to end (issue #6 acceptance 2, 3 and 5, and
// the route's group check): the real proxyos-auth, route-registry,
// sso-provider and two proxyos-edge processes on one Redis and one NATS.
// Every host name resolves to 127.0.0.1: the tests connect there and name
// the host in the Host header, as a browser behind a hosts file would.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "shared/core/url.h"
#include "tests/support/http_client.h"
#include "tests/support/loopback.h"
#include "tests/support/read_file.h"
#include "tests/support/service_process.h"
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
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Headers = std::map<std::string, std::string>;
using SteadyClock = std::chrono::steady_clock;

const std::string kBin = PROXYOS_BIN_DIR;
const std::string kSecret = "builtin-sso-0123456789abcdef0123456789abcd";
const std::string kAdminPassword = "correct-horse-battery-staple";
// The dashboard's cookie reaches every host under kCookieDomain; a.test and
// b.example are other root domains, reached only through the handoff.
const std::string kCookieDomain = "proxyos.test";
const std::string kDashHost = "dash.proxyos.test";
const std::string kAppHost = "app.proxyos.test";
const std::string kHtml = "text/html,application/xhtml+xml";

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool startsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

std::string urlEncode(const std::string& s) { return proxyos::percentEncode(s); }

/// What the edge puts in `state` for a nonce (shared/session/handoff.h).
std::string handoffState(const std::string& nonce) {
  testing::Sha256Stream h;
  h.update(nonce.data(), nonce.size());
  return h.hex();
}

/// One HTTP/1.1 exchange with 127.0.0.1:port, the request target sent exactly
/// as given (no URL parsing: open-redirect probes must reach the edge raw).
HttpResult exchange(std::uint16_t port, const std::string& method, const std::string& target, const Headers& headers,
                    const std::string& body = "") {
  HttpResult result;
  try {
    asio::io_context ioc;
    tcp::socket socket(ioc);
    socket.connect({asio::ip::make_address("127.0.0.1"), port});
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::connection, "close");
    for (const auto& [k, v] : headers) req.set(k, v);
    if (!body.empty() && req[http::field::content_type].empty()) req.set(http::field::content_type, "application/json");
    req.body() = body;
    if (!body.empty() || method == "POST") req.prepare_payload();
    http::write(socket, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    http::read(socket, buffer, parser);
    const auto& res = parser.get();
    result.status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
      const std::string name = lower(std::string(f.name_string()));
      result.headers[name] = std::string(f.value());
      result.headerList.emplace_back(name, std::string(f.value()));
    }
    result.body = res.body();
  } catch (const std::exception& e) {
    result.status = 0;
    result.error = e.what();
  }
  return result;
}

/// scheme://authority/target split; host is lower-case without the port.
struct SplitUrl {
  std::string origin;     // scheme://authority
  std::string authority;  // host[:port]
  std::string host;
  std::uint16_t port = 0;  // 0: none given
  std::string target;      // path?query, "/" at least
};

SplitUrl splitUrl(const std::string& url) {
  SplitUrl u;
  const auto schemeEnd = url.find("://");
  const auto rest = schemeEnd == std::string::npos ? url : url.substr(schemeEnd + 3);
  const auto slash = rest.find_first_of("/?");
  u.authority = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (u.target[0] == '?') u.target = "/" + u.target;
  u.origin = url.substr(0, schemeEnd == std::string::npos ? 0 : schemeEnd + 3) + u.authority;
  const auto colon = u.authority.rfind(':');
  u.host = lower(u.authority.substr(0, colon));
  if (colon != std::string::npos) u.port = static_cast<std::uint16_t>(std::stoi(u.authority.substr(colon + 1)));
  return u;
}

/// A tiny browser: sends Accept: text/html, keeps cookies per host as
/// RFC 6265 says (host-only vs Domain, Path, Max-Age=0 deletes), follows
/// Location. Every name connects to 127.0.0.1 (the URL's port, else `port`).
class Browser {
 public:
  struct Hop {
    std::string url;
    HttpResult response;
  };

  explicit Browser(std::uint16_t port) : port_(port) {}

  HttpResult request(const std::string& method, const std::string& url, const std::string& body = "",
                     Headers headers = {}) {
    const SplitUrl u = splitUrl(url);
    headers["Host"] = u.authority;
    if (!headers.count("Accept")) headers["Accept"] = kHtml;
    const std::string cookies = cookieHeader(u.host, u.target);
    if (!cookies.empty()) headers["Cookie"] = cookies;
    auto r = exchange(u.port ? u.port : port_, method, u.target, headers, body);
    for (const auto& [name, value] : r.headerList)
      if (name == "set-cookie") storeCookie(u.host, value);
    return r;
  }

  /// GET `url` and every Location after it (at most 10 hops).
  std::vector<Hop> navigate(std::string url) {
    std::vector<Hop> hops;
    for (int i = 0; i < 10; ++i) {
      auto r = request("GET", url);
      hops.push_back({url, r});
      const std::string location = r.header("location");
      if (r.status < 300 || r.status > 399 || location.empty()) break;
      url = startsWith(location, "/") ? splitUrl(url).origin + location : location;
    }
    return hops;
  }

  /// The value of cookie `name` the browser would send to host/path ("" if none).
  std::string cookie(const std::string& host, const std::string& name, const std::string& path = "/") const {
    for (const auto& c : jar_)
      if (c.name == name && matches(c, host, path)) return c.value;
    return "";
  }

  /// The stored cookie `name` for exactly this host-only/domain scope (for assertions).
  bool hasHostOnly(const std::string& host, const std::string& name) const {
    for (const auto& c : jar_)
      if (c.name == name && c.hostOnly && c.domain == host) return true;
    return false;
  }

 private:
  struct Cookie {
    std::string name, value, domain, path;
    bool hostOnly = true;
  };

  static bool matches(const Cookie& c, const std::string& host, const std::string& target) {
    const bool hostOk = c.hostOnly ? host == c.domain
                                   : host == c.domain || (host.size() > c.domain.size() &&
                                                          host.compare(host.size() - c.domain.size() - 1,
                                                                       std::string::npos, "." + c.domain) == 0);
    const std::string path = target.substr(0, target.find('?'));
    const bool pathOk =
        path == c.path || (startsWith(path, c.path) && (c.path.back() == '/' || path[c.path.size()] == '/'));
    return hostOk && pathOk;
  }

  std::string cookieHeader(const std::string& host, const std::string& target) const {
    std::string out;
    for (const auto& c : jar_)
      if (matches(c, host, target)) out += (out.empty() ? "" : "; ") + c.name + "=" + c.value;
    return out;
  }

  void storeCookie(const std::string& host, const std::string& header) {
    Cookie c;
    bool expired = false;
    std::size_t pos = 0;
    for (bool first = true; pos <= header.size(); first = false) {
      const auto semi = header.find(';', pos);
      std::string part = header.substr(pos, semi == std::string::npos ? std::string::npos : semi - pos);
      pos = semi == std::string::npos ? header.size() + 1 : semi + 1;
      while (!part.empty() && part.front() == ' ') part.erase(0, 1);
      const auto eq = part.find('=');
      const std::string key = part.substr(0, eq), value = eq == std::string::npos ? "" : part.substr(eq + 1);
      if (first) {
        c.name = key;
        c.value = value;
      } else if (lower(key) == "domain") {
        c.domain = lower(value[0] == '.' ? value.substr(1) : value);
        c.hostOnly = false;
      } else if (lower(key) == "path") {
        c.path = value;
      } else if (lower(key) == "max-age") {
        expired = std::stol(value) <= 0;
      }
    }
    if (c.hostOnly) c.domain = host;
    if (c.path.empty() || c.path[0] != '/') c.path = "/";
    // A browser ignores a Domain the setting host is not under.
    if (!c.hostOnly && !matches(Cookie{c.name, "", c.domain, "/", false}, host, "/")) return;
    std::erase_if(jar_, [&](const Cookie& o) {
      return o.name == c.name && o.domain == c.domain && o.path == c.path && o.hostOnly == c.hostOnly;
    });
    if (!expired) jar_.push_back(c);
  }

  std::uint16_t port_;
  std::vector<Cookie> jar_;
};

/// True when a Cookie header carries a cookie named `name`.
bool cookieHeaderHas(const std::string& header, const std::string& name) {
  for (std::size_t pos = 0; pos < header.size();) {
    while (pos < header.size() && (header[pos] == ' ' || header[pos] == ';')) ++pos;
    if (header.compare(pos, name.size() + 1, name + "=") == 0) return true;
    pos = header.find(';', pos);
  }
  return false;
}

class SsoBuiltinTest : public ::testing::Test {
 protected:
  void SetUp() override {
    nats.start();
    redis.start();
    authPort = testing::freePort();
    registryPort = testing::freePort();
    ssoPort = testing::freePort();
    for (int i = 0; i < 2; ++i) {
      edgePort[i] = testing::freePort();
      edgeAdminPort[i] = testing::freePort();
    }
    auth = testing::startService(kBin + "/proxyos-auth", env(), dir.path() + "/auth.log", authPort);
    registry =
        testing::startService(kBin + "/proxyos-route-registry", env(), dir.path() + "/registry.log", registryPort);
    sso = testing::startService(kBin + "/proxyos-sso-provider", env(), dir.path() + "/sso.log", ssoPort);
    for (int i = 0; i < 2; ++i) {
      auto e = env();
      e["PROXYOS_DATA_DIR"] = dir.path() + "/edge-" + std::to_string(i);
      e["PROXYOS_NODE_ID"] = "edge-" + std::to_string(i);
      e["PROXYOS_EDGE_HTTP_LISTEN"] = "127.0.0.1:" + std::to_string(edgePort[i]);
      e["PROXYOS_EDGE_HTTPS_LISTEN"] = "127.0.0.1:0";
      e["PROXYOS_EDGE_THREADS"] = "2";
      e["PROXYOS_EDGE_ACCESS_LOG"] = dir.path() + "/access-" + std::to_string(i) + ".log";
      edge[i] = testing::startService(kBin + "/proxyos-edge", e, dir.path() + "/edge-" + std::to_string(i) + ".log",
                                      edgeAdminPort[i], "PROXYOS_EDGE_ADMIN_LISTEN");
    }
    admin = login("admin", kAdminPassword);
    ASSERT_FALSE(admin.empty());
    providerId = createProvider();
    ASSERT_FALSE(providerId.empty());
  }

  void TearDown() override {
    if (HasFailure())
      for (const auto& s : {&auth, &edge[0], &edge[1]}) {
        const std::string log = testing::readFile(s->log);
        std::printf("---- %s (end)\n%s\n", s->log.c_str(),
                    log.substr(log.size() > 4000 ? log.size() - 4000 : 0).c_str());
      }
  }

  std::map<std::string, std::string> env() const {
    return {{"PROXYOS_SECRET", kSecret},
            {"PROXYOS_NATS_URL", nats.url()},
            {"PROXYOS_REDIS_URL", redis.url()},
            {"PROXYOS_URL", dashOrigin()},
            {"PROXYOS_COOKIE_DOMAIN", kCookieDomain},
            {"PROXYOS_AUTH_URL", "http://127.0.0.1:" + std::to_string(authPort)},
            {"PROXYOS_REGISTRY_URL", "http://127.0.0.1:" + std::to_string(registryPort)},
            {"PROXYOS_SSO_URL", "http://127.0.0.1:" + std::to_string(ssoPort)},
            {"PROXYOS_ADMIN_USER", "admin"},
            {"PROXYOS_ADMIN_PASSWORD", kAdminPassword},
            {"PROXYOS_DATA_DIR", dir.path()},
            {"PROXYOS_LOG_FORMAT", "json"}};
  }

  /// PROXYOS_URL: the dashboard, served by edge 0.
  std::string dashOrigin() const { return "http://" + kDashHost + ":" + std::to_string(edgePort[0]); }
  std::string authority(const std::string& host, int e = 0) const { return host + ":" + std::to_string(edgePort[e]); }

  /// Logs in at auth directly; "proxyos_session=<value>" or "".
  std::string login(const std::string& user, const std::string& password) {
    const auto r = httpRequest("POST", auth.base + "/api/auth/login",
                               nlohmann::json{{"username", user}, {"password", password}}.dump(),
                               {{"Host", authority(kDashHost)}});
    EXPECT_EQ(r.status, 200) << r.body;
    const std::string sc = r.header("set-cookie");
    return r.status == 200 ? sc.substr(0, sc.find(';')) : "";
  }

  /// A dashboard-style admin call: session cookie and Origin (CSRF).
  HttpResult api(const std::string& method, const std::string& url, const nlohmann::json& body) {
    return httpRequest(method, url, body.dump(), {{"Cookie", admin}, {"Origin", dashOrigin()}});
  }

  std::string createProvider() {
    const std::string authUrl = "http://127.0.0.1:" + std::to_string(authPort);
    const auto r = api("POST", sso.base + "/api/sso-providers",
                       {{"name", "ProxyOS"},
                        {"type", "builtin"},
                        {"forwardAuthUrl", authUrl + "/api/auth/verify"},
                        {"authResponseHeaders", {"X-Auth-User", "X-Auth-Email", "X-Auth-Groups"}},
                        {"groupsHeader", "X-Auth-Groups"}});
    EXPECT_EQ(r.status, 201) << r.body;
    return r.status == 201 ? r.json()["id"].get<std::string>() : "";
  }

  /// A built-in SSO route, waited for until both edges enforce it (an API
  /// client without a session gets the edge's 401).
  void createRoute(const std::string& domain, const std::string& upstream, std::vector<std::string> groups = {}) {
    const auto r = api("POST", registry.base + "/api/routes",
                       {{"name", "r"},
                        {"domains", {domain}},
                        {"upstreams", {upstream}},
                        {"ssoEnabled", true},
                        {"ssoProviderId", providerId},
                        {"accessosGroups", groups}});
    ASSERT_EQ(r.status, 201) << r.body;
    for (int e = 0; e < 2; ++e)
      ASSERT_TRUE(testing::waitUntil(
          [&] {
            return exchange(edgePort[e], "GET", "/headers", {{"Host", authority(domain, e)}}).status == 401;
          },
          10s))
          << domain << " on edge " << e << ": " << exchange(edgePort[e], "GET", "/headers", {{"Host", domain}}).status;
  }

  /// GET /headers on edge `e` for `host`.
  HttpResult get(int e, const std::string& host, Headers headers, const std::string& target = "/headers") {
    headers["Host"] = authority(host, e);
    return exchange(edgePort[e], "GET", target, headers);
  }

  testing::TempDir dir;
  testing::NatsServer nats;
  testing::RedisServer redis;
  std::uint16_t authPort = 0, registryPort = 0, ssoPort = 0;
  std::uint16_t edgePort[2] = {0, 0}, edgeAdminPort[2] = {0, 0};
  testing::RunningService auth, registry, sso, edge[2];
  std::string admin;
  std::string providerId;
};

// Acceptance 2: one session on two edges; a logout ends it on both, and the
// WebSocket it let through, within a second.
TEST_F(SsoBuiltinTest, TwoEdgesShareTheSessionAndALogoutEndsItOnBothWithinASecond) {
  TestUpstream up("A");
  createRoute(kAppHost, up.url());
  const std::string cookie = login("admin", kAdminPassword);
  ASSERT_FALSE(cookie.empty());

  for (int e = 0; e < 2; ++e) {
    // Delete before set: the client's own identity headers never arrive.
    const auto r = get(e, kAppHost,
                       {{"Cookie", "theme=dark; " + cookie + "; lang=en"},
                        {"X-Auth-User", "mallory"},
                        {"X-Auth-Email", "mallory@evil.example"},
                        {"X-Auth-Groups", "admins"}});
    ASSERT_EQ(r.status, 200) << "edge " << e << ": " << r.body;
    const auto seen = r.json()["headers"];
    EXPECT_EQ(seen.value("x-auth-user", ""), "admin") << "edge " << e << ": " << seen.dump();
    EXPECT_NE(seen.value("x-auth-email", ""), "mallory@evil.example") << seen.dump();
    EXPECT_EQ(seen.value("x-auth-groups", "").find("admins"), std::string::npos) << seen.dump();
    const std::string upstreamCookie = seen.value("cookie", "");
    EXPECT_FALSE(cookieHeaderHas(upstreamCookie, "proxyos_session")) << "edge " << e << ": " << upstreamCookie;
    EXPECT_TRUE(cookieHeaderHas(upstreamCookie, "theme")) << upstreamCookie;
    EXPECT_TRUE(cookieHeaderHas(upstreamCookie, "lang")) << upstreamCookie;
  }

  asio::io_context ioc;
  {
    // No session, no tunnel.
    websocket::stream<tcp::socket> anonymous(ioc);
    anonymous.next_layer().connect({asio::ip::make_address("127.0.0.1"), edgePort[0]});
    beast::error_code ec;
    anonymous.handshake(authority(kAppHost), "/ws", ec);
    EXPECT_TRUE(ec) << "a WebSocket without a session was let through";
  }
  websocket::stream<tcp::socket> ws(ioc);
  ws.next_layer().connect({asio::ip::make_address("127.0.0.1"), edgePort[0]});
  ws.set_option(websocket::stream_base::decorator(
      [&cookie](websocket::request_type& req) { req.set(http::field::cookie, cookie); }));
  ws.handshake(authority(kAppHost), "/ws");
  ws.write(asio::buffer(std::string("hello")));
  beast::flat_buffer echoed;
  ws.read(echoed);
  EXPECT_EQ(beast::buffers_to_string(echoed.data()), "hello");

  // The socket's next read blocks until the edge closes it.
  std::atomic<bool> closed{false};
  SteadyClock::time_point closedAt;
  beast::error_code readError;
  std::thread reader([&] {
    beast::flat_buffer buf;
    ws.read(buf, readError);
    closedAt = SteadyClock::now();
    closed = true;
  });

  const auto logout = httpRequest("POST", auth.base + "/api/auth/logout", "",
                                  {{"Cookie", cookie}, {"Origin", dashOrigin()}, {"Host", authority(kDashHost)}});
  const auto loggedOut = SteadyClock::now();
  EXPECT_EQ(logout.status, 204) << logout.body;

  const std::string loginPrefix = dashOrigin() + "/login?rd=";
  for (int e = 0; e < 2; ++e) {
    HttpResult last;
    const bool redirected = testing::waitUntil(
        [&] {
          last = get(e, kAppHost, {{"Cookie", cookie}, {"Accept", kHtml}});
          return last.status == 302 && startsWith(last.header("location"), loginPrefix);
        },
        1500ms, 10ms);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - loggedOut).count();
    EXPECT_TRUE(redirected) << "edge " << e << ": " << last.status << " " << last.header("location");
    EXPECT_LE(ms, 1000) << "edge " << e << " still let the ended session through " << ms << " ms after the logout";
    EXPECT_NE(last.header("location").find(urlEncode("http://" + authority(kAppHost, e) + "/headers")),
              std::string::npos)
        << last.header("location");
    std::printf("[ info     ] edge %d redirects the ended session to login %lld ms after the logout\n", e,
                static_cast<long long>(ms));
  }

  const bool wsClosed = testing::waitUntil([&] { return closed.load(); }, 1500ms, 10ms);
  if (!wsClosed) ::shutdown(ws.next_layer().native_handle(), SHUT_RDWR);  // unblock the reader
  reader.join();
  ASSERT_TRUE(wsClosed) << "the WebSocket the ended session opened is still open";
  const auto wsMs = std::chrono::duration_cast<std::chrono::milliseconds>(closedAt - loggedOut).count();
  EXPECT_TRUE(readError) << "the read after the logout returned a message";
  EXPECT_LE(wsMs, 1000) << "the WebSocket closed " << wsMs << " ms after the logout";
  std::printf("[ info     ] WebSocket closed %lld ms after the logout (%s)\n", static_cast<long long>(wsMs),
              readError.message().c_str());
}

// Acceptance 3: one login on the dashboard carries to two other root domains
// through the one-time-code handoff; codes are single-use and bound to their
// host and browser; a logout ends every linked session.
TEST_F(SsoBuiltinTest, OneLoginReachesTwoRootDomainsThroughTheHandoffAndOneLogoutEndsBoth) {
  TestUpstream up("A");
  createRoute("a.test", up.url());
  createRoute("b.example", up.url());
  Browser browser(edgePort[0]);
  const auto loggedIn = browser.request("POST", dashOrigin() + "/api/auth/login",
                                        nlohmann::json{{"username", "admin"}, {"password", kAdminPassword}}.dump(),
                                        {{"Accept", "application/json"}, {"Content-Type", "application/json"}});
  ASSERT_EQ(loggedIn.status, 200) << loggedIn.body;
  ASSERT_FALSE(browser.cookie(kDashHost, "proxyos_session").empty()) << loggedIn.header("set-cookie");
  ASSERT_TRUE(browser.cookie("a.test", "proxyos_session").empty()) << "the dashboard cookie must not reach a.test";

  const std::string handoffPrefix = dashOrigin() + "/api/auth/handoff?rd=";
  for (const std::string host : {"a.test", "b.example"}) {
    const std::string start = "http://" + authority(host) + "/headers?x=1&y=two";
    const auto hops = browser.navigate(start);
    ASSERT_EQ(hops.size(), 4u) << host << ": ends at " << hops.back().url << " " << hops.back().response.status;
    // 1. The edge: no session here, off to the dashboard's handoff.
    EXPECT_EQ(hops[0].response.status, 302);
    EXPECT_TRUE(startsWith(hops[0].response.header("location"), handoffPrefix)) << hops[0].response.header("location");
    // 2. Auth: a code for this host, sent to this host's callback.
    EXPECT_TRUE(startsWith(hops[1].url, handoffPrefix)) << hops[1].url;
    const std::string callback = hops[1].response.header("location");
    EXPECT_EQ(hops[1].response.status, 302) << hops[1].response.body;
    EXPECT_TRUE(startsWith(callback, "http://" + authority(host) + "/.proxyos/callback?code=")) << callback;
    // 3. The edge's callback: a host-only cookie, then exactly the original URL.
    EXPECT_EQ(hops[2].url, callback);
    EXPECT_EQ(hops[2].response.status, 302) << hops[2].response.body;
    EXPECT_EQ(hops[2].response.header("location"), start);
    EXPECT_TRUE(browser.hasHostOnly(host, "proxyos_session")) << host;
    // 4. The page, with the identity and without the session cookie.
    ASSERT_EQ(hops[3].response.status, 200) << hops[3].response.body;
    const auto seen = hops[3].response.json();
    EXPECT_EQ(seen["target"], "/headers?x=1&y=two");
    EXPECT_EQ(seen["headers"].value("x-auth-user", ""), "admin") << seen.dump();
    EXPECT_FALSE(cookieHeaderHas(seen["headers"].value("cookie", ""), "proxyos_session")) << seen.dump();
    EXPECT_EQ(browser.navigate(start).size(), 1u) << "signed in on " << host << " now: no more redirects";

    // The same code again, even with this browser's nonce: refused.
    const std::string nonce = [&] {
      for (const auto& [name, value] : hops[0].response.headerList)
        if (name == "set-cookie" && startsWith(value, "proxyos_handoff="))
          return value.substr(16, value.find(';') - 16);
      return std::string();
    }();
    ASSERT_FALSE(nonce.empty()) << "the edge set no handoff nonce on " << host;
    const auto replay =
        exchange(edgePort[0], "GET", splitUrl(callback).target,
                 {{"Host", authority(host)}, {"Accept", kHtml}, {"Cookie", "proxyos_handoff=" + nonce}});
    EXPECT_EQ(replay.status, 400) << host << " accepted a used code: " << replay.header("location");
    EXPECT_TRUE(replay.header("location").empty());
    EXPECT_EQ(replay.headerCount("set-cookie"), 0) << replay.header("set-cookie");
  }

  // A code redeemed on another host than it was issued for, or without the
  // nonce of the browser that started the handoff (login CSRF): refused.
  // (Expiry after 30 s is tested against the store in handoff_test.)
  const std::string dashCookie = "proxyos_session=" + browser.cookie(kDashHost, "proxyos_session");
  auto issue = [&](const std::string& host, const std::string& nonce) {
    const auto r = exchange(
        edgePort[0], "GET",
        "/api/auth/handoff?rd=" + urlEncode("http://" + authority(host) + "/x") + "&state=" + handoffState(nonce),
        {{"Host", authority(kDashHost)}, {"Cookie", dashCookie}, {"Accept", kHtml}});
    EXPECT_EQ(r.status, 302) << r.body;
    return splitUrl(r.header("location")).target;
  };
  const auto otherHost =
      exchange(edgePort[0], "GET", issue("a.test", "n1"),
               {{"Host", authority("b.example")}, {"Cookie", "proxyos_handoff=n1"}, {"Accept", kHtml}});
  EXPECT_EQ(otherHost.status, 400) << "a code for a.test signed in on b.example";
  const auto otherBrowser =
      exchange(edgePort[0], "GET", issue("a.test", "n2"),
               {{"Host", authority("a.test")}, {"Cookie", "proxyos_handoff=n3"}, {"Accept", kHtml}});
  EXPECT_EQ(otherBrowser.status, 400) << "a code redeemed by a browser that did not start the handoff";
  const auto noNonce =
      exchange(edgePort[0], "GET", issue("a.test", "n4"), {{"Host", authority("a.test")}, {"Accept", kHtml}});
  EXPECT_EQ(noNonce.status, 400) << "a code redeemed without the nonce cookie";

  // One logout on the dashboard ends the sessions it lent to both domains.
  const auto logout = browser.request("POST", dashOrigin() + "/api/auth/logout", "", {{"Origin", dashOrigin()}});
  ASSERT_EQ(logout.status, 204) << logout.body;
  EXPECT_TRUE(browser.cookie(kDashHost, "proxyos_session").empty());
  for (const std::string host : {"a.test", "b.example"}) {
    const std::string start = "http://" + authority(host) + "/headers";
    HttpResult first;
    EXPECT_TRUE(testing::waitUntil(
        [&] {
          first = browser.request("GET", start);
          return first.status == 302;
        },
        1500ms, 10ms))
        << host << " still answers " << first.status << " after the logout";
    EXPECT_TRUE(startsWith(first.header("location"), handoffPrefix)) << first.header("location");
    const auto hops = browser.navigate(start);
    EXPECT_TRUE(startsWith(hops.back().url, dashOrigin() + "/login?rd=")) << host << ": ends at " << hops.back().url;
    for (const auto& hop : hops)
      EXPECT_FALSE(startsWith(hop.url, "http://" + authority(host) + "/.proxyos/callback")) << "a code was issued";
  }
}

// Acceptance 5 (edge + auth): the handoff's rd never leads off the hosts
// ProxyOS serves, and the callback goes only where the grant says.
TEST_F(SsoBuiltinTest, HandoffRefusesOpenRedirectsAndTheCallbackFollowsOnlyTheGrant) {
  TestUpstream up("A");
  createRoute("a.test", up.url());
  const Headers dash = {{"Host", authority(kDashHost)}, {"Cookie", admin}, {"Accept", kHtml}};
  const std::string state = "&state=" + handoffState("nonce");

  const std::vector<std::string> evil = {"http://evil.example/",
                                         "//evil.example/",
                                         "\\\\evil.example",
                                         "%2F%2Fevil.example",
                                         "http://evil.example%2F@a.test/",
                                         "https://a.test.evil.example/",
                                         "javascript:alert(1)",
                                         "http://a.test.evil.example:" + std::to_string(edgePort[0]) + "/"};
  for (const std::string& v : evil) {
    // Encoded as a query value, and as typed (auth decodes it once more).
    for (const std::string& rd : {urlEncode(v), v}) {
      const auto r = exchange(edgePort[0], "GET", "/api/auth/handoff?rd=" + rd + state, dash);
      EXPECT_EQ(r.status, 400) << "rd=" << rd << ": " << r.header("location");
      EXPECT_EQ(lower(r.header("location")).find("evil"), std::string::npos) << "rd=" << rd;
    }
  }

  // The control: a host a route serves gets a code, and the callback sends
  // the browser to exactly that URL, whatever rd the callback itself carries.
  const std::string original = "http://" + authority("a.test") + "/deep/path?q=1&r=%2F";
  const auto ok = exchange(edgePort[0], "GET", "/api/auth/handoff?rd=" + urlEncode(original) + state, dash);
  ASSERT_EQ(ok.status, 302) << ok.body;
  const std::string callback = ok.header("location");
  ASSERT_TRUE(startsWith(callback, "http://" + authority("a.test") + "/.proxyos/callback?code=")) << callback;
  const std::string code = callback.substr(callback.find("code=") + 5);
  const auto redeemed =
      exchange(edgePort[0], "GET",
               "/.proxyos/callback?rd=" + urlEncode("http://evil.example/") + "&code=" + code +
                   "&next=" + urlEncode("//evil.example"),
               {{"Host", authority("a.test")}, {"Cookie", "proxyos_handoff=nonce"}, {"Accept", kHtml}});
  ASSERT_EQ(redeemed.status, 302) << redeemed.body;
  EXPECT_EQ(redeemed.header("location"), original);
}

// The route's accessosGroups with the built-in provider: signed in is not
// enough; a member of the group passes and the upstream sees the groups.
TEST_F(SsoBuiltinTest, RouteGroupsDenyNonMembersWith403AndLetMembersThrough) {
  TestUpstream up("A");
  const std::string authBase = "http://127.0.0.1:" + std::to_string(authPort);
  const auto group = api("POST", authBase + "/api/auth/groups", {{"name", "ops"}});
  ASSERT_EQ(group.status, 201) << group.body;
  createRoute("ops.proxyos.test", up.url(), {"ops"});

  const auto denied = get(0, "ops.proxyos.test", {{"Cookie", admin}, {"Accept", kHtml}});
  EXPECT_EQ(denied.status, 403) << denied.body;
  EXPECT_NE(denied.body.find("ops"), std::string::npos) << denied.body;
  EXPECT_EQ(denied.body.find("\"server\""), std::string::npos) << "the upstream answered a denied request";

  const auto user = api("POST", authBase + "/api/auth/users",
                        {{"username", "olga"}, {"password", "olga-long-password-1"}, {"groups", {"ops"}}});
  ASSERT_EQ(user.status, 201) << user.body;
  const std::string olga = login("olga", "olga-long-password-1");
  ASSERT_FALSE(olga.empty());
  for (int e = 0; e < 2; ++e) {
    const auto r = get(e, "ops.proxyos.test", {{"Cookie", olga}, {"X-Auth-Groups", "forged"}});
    ASSERT_EQ(r.status, 200) << r.body;
    const auto seen = r.json()["headers"];
    EXPECT_EQ(seen.value("x-auth-user", ""), "olga");
    const std::string groups = seen.value("x-auth-groups", "");
    EXPECT_NE(groups.find("ops"), std::string::npos) << groups;
    EXPECT_EQ(groups.find("forged"), std::string::npos) << groups;
  }
}

}  // namespace
}  // namespace proxyos
