// The built-in provider on the data plane, in process (ProxyServer +
// SsoContext with a scripted SessionAuthority; real sockets, a real
// upstream): many requests missing the verdict cache at once from many
// connections (the path that goes to the worker threads and back), and a
// revocation that closes an open WebSocket. The Redis-backed authority and
// the handoff are covered with the real binaries in sso_builtin_test.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "services/edge-proxy/proxy_server.h"
#include "services/edge-proxy/sso_context.h"
#include "tests/support/in_process_edge.h"
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

constexpr const char* kGood = "good-cookie";
constexpr const char* kAlsoGood = "also-good-cookie";  // valid too, but not yet seen by the edge

// Valid for kGood and kAlsoGood (session "s1"), invalid otherwise, and
// Unavailable for everything while `down` (Redis failing over); slow enough
// that concurrent misses overlap on the workers.
class ScriptedAuthority final : public SessionAuthority {
 public:
  SessionVerdict verify(std::string_view cookie) override {
    ++calls;
    std::this_thread::sleep_for(200us);
    SessionVerdict v;
    if (down) {
      v.kind = SessionVerdict::Kind::Unavailable;
      return v;
    }
    if (cookie != kGood && cookie != kAlsoGood) return v;
    v.kind = SessionVerdict::Kind::Valid;
    v.sessionId = "s1";
    v.username = "alice";
    v.email = "alice@example.com";
    v.groups = {"admins", "dev"};
    return v;
  }
  session::HandoffResult redeem(std::string_view, std::string_view, std::string_view, std::string_view,
                                std::string_view) override {
    return {};
  }
  std::atomic<int> calls{0};
  std::atomic<bool> down{false};
};

class SsoBuiltinEdgeTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    settings_.verdictTtl = 1ms;  // nearly every request misses the cache
    sso_.emplace(authority_, SystemClock::instance(), settings_, 2);
  }

  /// One GET of app.test with `cookie` as the session, on a new connection: the status.
  unsigned statusWith(const std::string& cookie) {
    asio::io_context ioc;
    tcp::socket s(ioc);
    s.connect({asio::ip::make_address("127.0.0.1"), port_});
    http::request<http::empty_body> req(http::verb::get, "/headers", 11);
    req.set(http::field::host, "app.test");
    req.set(http::field::cookie, "proxyos_session=" + cookie);
    http::write(s, req);
    boost::beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    return res.result_int();
  }
  void TearDown() override { EXPECT_TRUE(edge_.stop()) << "connections still open 10 s after stop()"; }

  void start(const std::string& upstream) {
    model::Route r;
    r.id = "r1";
    r.name = "r1";
    r.domains = {"app.test"};
    r.pathPrefix = "/";
    r.upstreams = {upstream};
    r.ssoEnabled = true;
    r.ssoProviderId = "builtin";
    ConfigSnapshot snapshot;
    snapshot.routes = {r};
    snapshot.providersJson = {
        {"builtin",
         R"({"name":"ProxyOS","type":"builtin","forwardAuthUrl":"http://127.0.0.1:1/api/auth/verify",)"
         R"("authResponseHeaders":["X-Auth-User","X-Auth-Email","X-Auth-Groups"]})"}};
    snapshot.revision = 1;
    auto table = RouteTable::build(snapshot, "dash.test");
    ASSERT_TRUE(table.ok()) << table.error().message;
    tables_.publish(table.value());
    edge_.start(tables_, observer_, system_, ProxyOptions{}, &*sso_);
    port_ = edge_.port();
  }

  ScriptedAuthority authority_;
  SsoSettings settings_{"http://dash.test", "dash.test", ""};
  std::optional<SsoContext> sso_;
  TableHolder tables_;
  NullProxyObserver observer_;
  NotFoundSystemRoute system_;
  proxyos::testing::InProcessEdge edge_{GetParam()};
  std::uint16_t port_ = 0;
};

TEST_P(SsoBuiltinEdgeTest, ManyConcurrentCacheMissesAllResolveCorrectly) {
  TestUpstream upstream("A");
  start(upstream.url());
  constexpr int kClients = 24;
  constexpr int kRequests = 60;
  std::atomic<int> allowed{0}, denied{0}, wrong{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c)
    clients.emplace_back([&, c] {
      asio::io_context ioc;
      tcp::socket s(ioc);
      s.connect({asio::ip::make_address("127.0.0.1"), port_});
      boost::beast::flat_buffer buf;
      for (int i = 0; i < kRequests; ++i) {
        const bool good = (c + i) % 4 != 0;
        http::request<http::empty_body> req(http::verb::get, "/headers", 11);
        req.set(http::field::host, "app.test");
        req.set(http::field::cookie, std::string("a=1; proxyos_session=") + (good ? kGood : "forged") + "; b=2");
        req.set("X-Auth-User", "mallory");
        http::write(s, req);
        http::response<http::string_body> res;
        boost::system::error_code ec;
        http::read(s, buf, res, ec);
        if (ec) {
          ++wrong;
          return;
        }
        if (good && res.result_int() == 200) {
          const auto seen = nlohmann::json::parse(res.body())["headers"];
          const bool ok = seen.value("x-auth-user", "") == "alice" && seen.value("cookie", "") == "a=1; b=2";
          ++(ok ? allowed : wrong);
        } else if (!good && res.result_int() == 401) {
          ++denied;
        } else {
          ++wrong;
        }
      }
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(allowed.load() + denied.load(), kClients * kRequests);
  EXPECT_GT(authority_.calls.load(), kClients) << "the cache was missed concurrently, as intended";
}

TEST_P(SsoBuiltinEdgeTest, RevocationClosesAnOpenWebSocketOfThatSession) {
  TestUpstream upstream("A");
  start(upstream.url());
  asio::io_context ioc;
  websocket::stream<tcp::socket> ws(ioc);
  ws.next_layer().connect({asio::ip::make_address("127.0.0.1"), port_});
  ws.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
    req.set(http::field::cookie, std::string("proxyos_session=") + kGood);
  }));
  ws.handshake("app.test", "/ws");
  ws.write(asio::buffer(std::string("ping")));
  boost::beast::flat_buffer buf;
  ws.read(buf);
  EXPECT_EQ(boost::beast::buffers_to_string(buf.data()), "ping");

  edge_.server().revokeSession("someone-else");
  ws.write(asio::buffer(std::string("still")));
  buf.clear();
  ws.read(buf);
  EXPECT_EQ(boost::beast::buffers_to_string(buf.data()), "still") << "another session's logout leaves it open";

  const auto revokedAt = std::chrono::steady_clock::now();
  edge_.server().revokeSession("s1");
  boost::system::error_code ec;
  buf.clear();
  ws.next_layer().set_option(asio::socket_base::linger(false, 0));
  ws.read(buf, ec);  // returns when the edge closes the connection
  EXPECT_TRUE(ec) << "the WebSocket stayed open after its session was revoked";
  EXPECT_LT(std::chrono::steady_clock::now() - revokedAt, 1s);
}

// Redis failing over: a session this edge saw valid goes on for the grace
// (docs/architecture.md), then fails closed; a session it never saw fails
// closed at once (503, not 401: the store, not the user, is at fault).
TEST_P(SsoBuiltinEdgeTest, WhileTheStoreIsDownOnlyASessionSeenValidGoesOnForTheGrace) {
  settings_.verdictStaleGrace = 2s;
  sso_.emplace(authority_, SystemClock::instance(), settings_, 2);
  TestUpstream upstream("A");
  start(upstream.url());
  ASSERT_EQ(statusWith(kGood), 200u);
  authority_.down = true;
  const auto downAt = std::chrono::steady_clock::now();
  EXPECT_EQ(statusWith(kGood), 200u) << "seen valid moments ago";
  EXPECT_EQ(statusWith(kAlsoGood), 503u) << "never seen: fail closed";
  EXPECT_EQ(statusWith("forged"), 503u);
  ASSERT_TRUE(waitUntil([&] { return statusWith(kGood) == 503u; }, 10s)) << "the grace never ended";
  EXPECT_GE(std::chrono::steady_clock::now() - downAt, 1s) << "the grace ended too early";
  authority_.down = false;
  EXPECT_EQ(statusWith(kGood), 200u);
  EXPECT_EQ(statusWith(kAlsoGood), 200u);
}

INSTANTIATE_TEST_SUITE_P(Threading, SsoBuiltinEdgeTest, ::testing::Values(1, 2),
                         [](const auto& info) { return info.param == 1 ? "OneThread" : "TwoThreads"; });

}  // namespace
