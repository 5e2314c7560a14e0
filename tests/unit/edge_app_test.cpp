// The pieces proxyos-edge wires around its data plane: configuration, the
// access log, the dashboard's files and the system route's dispatch.
#include <gtest/gtest.h>

#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "services/edge-proxy/access_log.h"
#include "services/edge-proxy/dashboard_files.h"
#include "services/edge-proxy/edge_config.h"
#include "services/edge-proxy/edge_system_route.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"

namespace proxyos::edge {
namespace {

using namespace std::chrono_literals;

MapEnv baseEnv() { return MapEnv({{"PROXYOS_SECRET", std::string(32, 's')}}); }

std::string configError(const MapEnv& env) {
  try {
    loadEdgeConfig(env, "host-1");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(EdgeConfigTest, DefaultsFollowTheContract) {
  const auto c = loadEdgeConfig(baseEnv(), "host-1");
  EXPECT_EQ(c.nodeId, "host-1");
  EXPECT_EQ(c.httpListen.str(), "0.0.0.0:8080");
  EXPECT_EQ(c.adminListen.str(), "127.0.0.1:7004");
  EXPECT_GE(c.threads, 1);
  EXPECT_EQ(c.accessLog, "stdout");
  EXPECT_EQ(c.dashboardDir, "");
  EXPECT_TRUE(c.httpsEnabled);
  EXPECT_EQ(c.httpsListen.str(), "0.0.0.0:8443");
  EXPECT_EQ(c.systemTlsMode, "internal");
  EXPECT_EQ(c.acmeDirectory, "https://acme-v02.api.letsencrypt.org/directory");
  EXPECT_EQ(c.acmeCaRoot, "");
}

TEST(EdgeConfigTest, HttpsCanBeTurnedOffAndTlsValuesAreChecked) {
  auto env = baseEnv();
  env.set("PROXYOS_EDGE_HTTPS_LISTEN", "off");
  EXPECT_FALSE(loadEdgeConfig(env, "host-1").httpsEnabled);
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"PROXYOS_EDGE_HTTPS_LISTEN", "nonsense"},
           {"PROXYOS_TLS_MODE", "acme"},
           {"PROXYOS_ACME_DIRECTORY", "ftp://ca.example/dir"},
           {"PROXYOS_ACME_EMAIL", "nobody"},
           {"PROXYOS_ACME_CA_ROOT", "/nonexistent/root.pem"}}) {
    env = baseEnv();
    env.set(name, value);
    EXPECT_NE(configError(env).find(name), std::string::npos) << name << "=" << value;
  }
  env = baseEnv();
  env.set("PROXYOS_EDGE_HTTPS_LISTEN", ":8080");
  EXPECT_NE(configError(env).find("PROXYOS_EDGE_HTTPS_LISTEN"), std::string::npos);
}

TEST(EdgeConfigTest, BadValuesNameTheirVariable) {
  auto env = baseEnv();
  env.set("PROXYOS_EDGE_THREADS", "0");
  EXPECT_NE(configError(env).find("PROXYOS_EDGE_THREADS"), std::string::npos);
  env = baseEnv();
  env.set("PROXYOS_NODE_ID", "edge one");
  EXPECT_NE(configError(env).find("PROXYOS_NODE_ID"), std::string::npos);
  env = baseEnv();
  env.set("PROXYOS_EDGE_ACCESS_LOG", "relative/access.log");
  EXPECT_NE(configError(env).find("PROXYOS_EDGE_ACCESS_LOG"), std::string::npos);
  env = baseEnv();
  env.set("PROXYOS_EDGE_HTTP_LISTEN", "nonsense");
  EXPECT_NE(configError(env).find("PROXYOS_EDGE_HTTP_LISTEN"), std::string::npos);
  env = baseEnv();
  env.set("PROXYOS_EDGE_HTTP_LISTEN", ":7004");
  EXPECT_NE(configError(env).find("PROXYOS_EDGE_ADMIN_LISTEN"), std::string::npos);
  EXPECT_NE(configError(MapEnv{}).find("PROXYOS_SECRET"), std::string::npos);
}

TEST(EdgeConfigTest, HelpListsTheEdgeVariablesButNotProxyosListen) {
  std::vector<std::string> names;
  for (const auto& v : edgeVarSpecs()) names.push_back(v.name);
  for (const char* n : {"PROXYOS_NODE_ID", "PROXYOS_EDGE_HTTP_LISTEN", "PROXYOS_EDGE_ADMIN_LISTEN",
                        "PROXYOS_EDGE_THREADS", "PROXYOS_DASHBOARD_DIR", "PROXYOS_EDGE_ACCESS_LOG", "PROXYOS_SECRET",
                        "PROXYOS_EDGE_HTTPS_LISTEN", "PROXYOS_TLS_MODE", "PROXYOS_ACME_DIRECTORY", "PROXYOS_ACME_EMAIL",
                        "PROXYOS_ACME_CA_ROOT"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  EXPECT_EQ(std::find(names.begin(), names.end(), "PROXYOS_LISTEN"), names.end());
}

AccessRecord sampleRecord(int status) {
  AccessRecord r;
  r.routeId = "r1";
  r.host = "app.test";
  r.method = "GET";
  r.path = "/a\"b\\c";
  r.upstream = "127.0.0.1:3000";
  r.status = status;
  r.bytesSent = 1234;
  r.upstreamLatency = 1500us;
  r.totalLatency = 2250us;
  r.requestId = "req-1";
  return r;
}

TEST(AccessLogTest, LineIsOneJsonObjectWithEveryField) {
  FakeClock clock;
  const std::string line = formatAccessLine(sampleRecord(200), clock.now(), "node-1");
  ASSERT_EQ(line.back(), '\n');
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["node"], "node-1");
  EXPECT_EQ(j["routeId"], "r1");
  EXPECT_EQ(j["path"], "/a\"b\\c");
  EXPECT_EQ(j["status"], 200);
  EXPECT_EQ(j["bytes"], 1234);
  EXPECT_DOUBLE_EQ(j["upstreamLatencyMs"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(j["totalLatencyMs"].get<double>(), 2.25);
  EXPECT_EQ(j["requestId"], "req-1");
  EXPECT_EQ(j["time"].get<std::string>().size(), 24u);
}

/// A writer that records batches and can be held shut, like a blocked pipe.
struct CapturingWriter {
  std::mutex mu;
  std::condition_variable cv;
  bool blocked = false;
  bool entered = false;  // the writer thread is inside a write
  std::string text;

  AccessLogWriter writer() {
    return [this](const std::string& batch) {
      std::unique_lock lock(mu);
      entered = true;
      cv.wait(lock, [&] { return !blocked; });
      text += batch;
    };
  }
  bool writing() {
    std::lock_guard lock(mu);
    return entered;
  }
  void setBlocked(bool b) {
    {
      std::lock_guard lock(mu);
      blocked = b;
    }
    cv.notify_all();
  }
  std::size_t lines() {
    std::lock_guard lock(mu);
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
  }
};

TEST(AccessLogTest, WritesEveryLineAndCountsByStatusClass) {
  FakeClock clock;
  CapturingWriter out;
  AccessLog log("n", clock, out.writer());
  for (int i = 0; i < 500; ++i) log.onRequest(sampleRecord(i % 5 == 0 ? 502 : 200));
  log.onRequest(sampleRecord(0));
  EXPECT_TRUE(testing::waitUntil([&] { return out.lines() == 501; }, 5s));
  EXPECT_EQ(log.requests(), 501u);
  EXPECT_EQ(log.responses(2), 400u);
  EXPECT_EQ(log.responses(5), 100u);
  EXPECT_EQ(log.responses(0), 1u);
  EXPECT_EQ(log.dropped(), 0u);
}

TEST(AccessLogTest, AFullQueueDropsAndCountsInsteadOfBlockingRequests) {
  FakeClock clock;
  CapturingWriter out;
  out.setBlocked(true);
  AccessLog log("n", clock, out.writer(), 10);
  log.onRequest(sampleRecord(200));
  // The writer is stuck on the first line; ten fit behind it, the rest drop.
  ASSERT_TRUE(testing::waitUntil([&] { return out.writing(); }, 5s));
  for (int i = 0; i < 25; ++i) log.onRequest(sampleRecord(200));
  EXPECT_EQ(log.dropped(), 15u);
  out.setBlocked(false);
  log.stop();
  EXPECT_EQ(out.lines(), 11u);
  EXPECT_EQ(log.requests(), 26u);
}

TEST(AccessLogTest, OffStillCounts) {
  FakeClock clock;
  AccessLog log("n", clock, AccessLogWriter{});
  log.onRequest(sampleRecord(404));
  EXPECT_EQ(log.responses(4), 1u);
  EXPECT_TRUE(openAccessLog("off").ok());
  EXPECT_FALSE(openAccessLog("off").value());
  EXPECT_FALSE(openAccessLog("/nonexistent-dir/access.log").ok());
}

class DashboardFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write("index.html", "<html>dash</html>");
    write("assets/app.js", "console.log(1)");
    write(".secret", "nope");
  }
  void write(const std::string& name, const std::string& body) {
    const auto path = dir.path() + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path) << body;
  }
  testing::TempDir dir;
};

TEST_F(DashboardFilesTest, ServesFilesAndTheSinglePageAppsRoutes) {
  const auto files = DashboardFiles::load(dir.path());
  ASSERT_TRUE(files.ok()) << files.error().message;
  EXPECT_EQ(*files.value().find("/")->body, "<html>dash</html>");
  EXPECT_EQ(files.value().find("/assets/app.js")->contentType, "text/javascript; charset=utf-8");
  EXPECT_EQ(*files.value().find("/routes/new")->body, "<html>dash</html>") << "client-side route";
  EXPECT_EQ(files.value().find("/missing.js"), nullptr);
  EXPECT_EQ(files.value().find("/.secret"), nullptr) << "dot-files are never served";
  EXPECT_EQ(files.value().find("/../index.html"), nullptr);
}

TEST_F(DashboardFilesTest, BadDirectoriesNameTheVariable) {
  auto missing = DashboardFiles::load(dir.path() + "/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("PROXYOS_DASHBOARD_DIR"), std::string::npos);
  std::filesystem::remove(dir.path() + "/index.html");
  auto noIndex = DashboardFiles::load(dir.path());
  ASSERT_FALSE(noIndex.ok());
  EXPECT_NE(noIndex.error().message.find("index.html"), std::string::npos);
}

class SystemRouteTest : public DashboardFilesTest {
 protected:
  SystemAnswer handle(const std::string& method, const std::string& path, const std::string& ifNoneMatch = "") {
    static const ControlPlane services{parseUrl("http://127.0.0.1:7001").value(),
                                       parseUrl("http://registry:7002").value(),
                                       parseUrl("https://sso.internal").value()};
    if (!route) route = std::make_unique<EdgeSystemRoute>(services, DashboardFiles::load(dir.path()).value(),
                                                           [] { return std::string(R"({"node":"n"})"); });
    SystemHeaders headers;
    if (!ifNoneMatch.empty()) headers.set(boost::beast::http::field::if_none_match, ifNoneMatch);
    return route->handle({method, path, path, "dash.test", "127.0.0.1", headers});
  }
  std::unique_ptr<EdgeSystemRoute> route;
};

TEST_F(SystemRouteTest, ControlPlaneApisGoToTheirServices) {
  EXPECT_EQ(handle("POST", "/api/auth/login").upstream.port, 7001);
  EXPECT_EQ(handle("GET", "/api/routes").upstream.host, "registry");
  EXPECT_EQ(handle("GET", "/api/routes/abc").upstream.host, "registry");
  const auto sso = handle("GET", "/api/sso-providers/presets");
  ASSERT_EQ(sso.kind, SystemAnswer::Kind::Proxy);
  EXPECT_TRUE(sso.upstream.tls);
  EXPECT_EQ(sso.upstream.port, 443);
  const auto lookalike = handle("GET", "/api/routesx");
  EXPECT_EQ(lookalike.kind, SystemAnswer::Kind::Respond);
  EXPECT_EQ(lookalike.status, 404);
  EXPECT_NE(lookalike.body->find("not_found"), std::string::npos);
}

TEST_F(SystemRouteTest, EdgeStatusAndStaticFilesAreAnsweredInProcess) {
  const auto status = handle("GET", "/api/edge/status");
  EXPECT_EQ(status.status, 200);
  EXPECT_EQ(*status.body, R"({"node":"n"})");
  EXPECT_TRUE(status.dashboardUsersOnly) << "the data plane checks the session before sending it";
  EXPECT_EQ(handle("DELETE", "/api/edge/status").status, 405);

  const auto page = handle("GET", "/settings");
  EXPECT_EQ(page.status, 200);
  EXPECT_FALSE(page.dashboardUsersOnly) << "the login page must load without a session";
  EXPECT_EQ(*page.body, "<html>dash</html>");
  std::string etag;
  for (const auto& [k, v] : page.headers)
    if (k == "ETag") etag = v;
  ASSERT_FALSE(etag.empty());
  const auto again = handle("GET", "/settings", etag);
  EXPECT_EQ(again.status, 304);
  EXPECT_EQ(again.body, nullptr);
  EXPECT_EQ(handle("POST", "/index.html").status, 405);
  EXPECT_EQ(handle("GET", "/missing.css").status, 404);
}

TEST_F(SystemRouteTest, PagesCarryAStrictContentSecurityPolicy) {
  for (const auto& answer : {handle("GET", "/login"), handle("GET", "/assets/app.js")}) {
    std::map<std::string, std::string> headers(answer.headers.begin(), answer.headers.end());
    EXPECT_EQ(headers["X-Frame-Options"], "DENY");
    EXPECT_EQ(headers["X-Content-Type-Options"], "nosniff");
    const std::string& csp = headers["Content-Security-Policy"];
    // Only the dashboard's own files run: no inline script or style, no other origin, no framing.
    for (const char* directive : {"default-src 'self'", "script-src 'self';", "style-src 'self';", "connect-src 'self'",
                                  "frame-ancestors 'none'", "base-uri 'none'", "object-src 'none'"})
      EXPECT_NE(csp.find(directive), std::string::npos) << directive << " missing from: " << csp;
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  }
}

}  // namespace
}  // namespace proxyos::edge
