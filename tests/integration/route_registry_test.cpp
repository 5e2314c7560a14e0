// proxyos-route-registry as a user runs it: real processes, real NATS, real
// HTTP. Covers issue #2's acceptance points 2, 3 and 5.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <thread>

#include "tests/support/http_client.h"
#include "tests/support/loopback.h"
#include "tests/support/process.h"
#include "tests/support/read_file.h"
#include "tests/support/service_process.h"
#include "tests/support/session_fixture.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_servers.h"
#include "tests/support/wait.h"

namespace proxyos {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::httpRequest;
using testing::HttpResult;

const std::string kBinary = std::string(PROXYOS_BIN_DIR) + "/proxyos-route-registry";
const std::string kSecret = "0123456789abcdef0123456789abcdef";

using Registry = testing::RunningService;

const std::string kOrigin = "http://dash.test:8080";

class RouteRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    nats.start();
    redis.start();
    adminCookie = testing::issueSessionCookie(redis.url(), kSecret, session::Role::Admin, "admin");
    ssoPort = testing::freePort();
  }

  /// The sso-provider service the registry asks about providers (started only where needed).
  testing::RunningService startSsoProvider() {
    return testing::startService(std::string(PROXYOS_BIN_DIR) + "/proxyos-sso-provider", env(),
                                 dir.path() + "/sso-provider.log", ssoPort);
  }

  /// A request as the dashboard makes it: admin session cookie and Origin.
  HttpResult api(const std::string& method, const std::string& url, const std::string& body = "",
                 std::map<std::string, std::string> headers = {}) {
    headers.emplace("Cookie", adminCookie);
    headers.emplace("Origin", kOrigin);
    return httpRequest(method, url, body, headers);
  }

  std::map<std::string, std::string> env() const {
    return {{"PROXYOS_SECRET", kSecret},
            {"PROXYOS_NATS_URL", nats.url()},
            {"PROXYOS_REDIS_URL", redis.url()},
            {"PROXYOS_AUTH_URL", "http://127.0.0.1:1"},
            {"PROXYOS_SSO_URL", "http://127.0.0.1:" + std::to_string(ssoPort)},
            {"PROXYOS_URL", "http://dash.test:8080"},
            {"PROXYOS_DATA_DIR", dir.path()},
            {"PROXYOS_LOG_FORMAT", "json"}};
  }

  Registry& startRegistry() {
    const std::string log = dir.path() + "/registry-" + std::to_string(registries.size()) + ".log";
    registries.push_back(testing::startService(kBinary, env(), log));
    return registries.back();
  }

  static std::string routeJson(const std::string& domain, const std::string& extra = "") {
    return R"({"name":"t","domains":[")" + domain + R"("],"upstreams":["http://127.0.0.1:3000"])" + extra + "}";
  }

  testing::TempDir dir;
  testing::NatsServer nats;
  testing::RedisServer redis;
  std::string adminCookie;
  uint16_t ssoPort = 0;
  std::deque<Registry> registries;
};

TEST_F(RouteRegistryTest, CreateReadUpdateDeleteWithEtags) {
  auto& reg = startRegistry();
  auto created = api("POST", reg.base + "/api/routes", routeJson("App.Example.com"));
  ASSERT_EQ(created.status, 201) << created.body;
  const auto route = created.json();
  const std::string id = route["id"];
  EXPECT_EQ(route["domains"][0], "app.example.com");
  EXPECT_EQ(created.header("Location"), "/api/routes/" + id);
  const std::string etag1 = created.header("ETag");
  EXPECT_EQ(etag1, "\"" + std::to_string(route["revision"].get<uint64_t>()) + "\"");

  auto got = api("GET", reg.base + "/api/routes/" + id);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.header("ETag"), etag1);
  EXPECT_EQ(got.json(), route);

  auto put = api("PUT", reg.base + "/api/routes/" + id, routeJson("app.example.com", R"(,"pathPrefix":"/v2")"),
                         {{"If-Match", etag1}});
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.json()["pathPrefix"], "/v2");
  EXPECT_NE(put.header("ETag"), etag1);

  auto stale = api("PATCH", reg.base + "/api/routes/" + id, R"({"name":"lost update"})", {{"If-Match", etag1}});
  EXPECT_EQ(stale.status, 412) << stale.body;
  EXPECT_EQ(stale.errorCode(), "precondition_failed");
  EXPECT_EQ(api("GET", reg.base + "/api/routes/" + id).json()["name"], "t");

  auto patched = api("PATCH", reg.base + "/api/routes/" + id, R"({"name":"renamed"})",
                             {{"If-Match", put.header("ETag")}});
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.json()["name"], "renamed");
  EXPECT_EQ(patched.json()["createdAt"], route["createdAt"]);

  EXPECT_EQ(api("DELETE", reg.base + "/api/routes/" + id, "", {{"If-Match", etag1}}).status, 412);
  EXPECT_EQ(api("DELETE", reg.base + "/api/routes/" + id).status, 204);
  EXPECT_EQ(api("GET", reg.base + "/api/routes/" + id).status, 404);
  // The domain is free again.
  EXPECT_EQ(api("POST", reg.base + "/api/routes", routeJson("app.example.com")).status, 201);
}

TEST_F(RouteRegistryTest, FiftyConcurrentCreatesOverTwoProcessesYieldExactlyOneWinner) {
  std::vector<std::string> bases{startRegistry().base, startRegistry().base};
  constexpr int kWriters = 50;
  std::atomic<int> go{0};
  std::vector<HttpResult> results(kWriters);
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      while (go.load() == 0) std::this_thread::yield();
      // Every writer claims the same domain; half also claim a private one,
      // whose claim must be rolled back when the shared one is lost.
      const std::string domains = i % 2 ? R"(["shared.example.com"])"
                                        : R"(["own)" + std::to_string(i) + R"(.example.com","shared.example.com"])";
      results[i] = api("POST", bases[i % 2] + "/api/routes",
                               R"({"domains":)" + domains + R"(,"upstreams":["http://127.0.0.1:1"]})");
    });
  }
  go = 1;
  for (auto& t : threads) t.join();
  int created = 0, conflicts = 0;
  for (const auto& r : results) {
    if (r.status == 201) ++created;
    else if (r.status == 409 && r.errorCode() == "domain_conflict") ++conflicts;
    else ADD_FAILURE() << r.status << " " << r.body << " " << r.error;
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(conflicts, kWriters - 1);
  auto list = api("GET", bases[0] + "/api/routes").json()["routes"];
  ASSERT_EQ(list.size(), 1u) << list.dump();
  // Rolled-back private claims are free: each can be created now.
  for (int i = 0; i < kWriters; i += 2) {
    if (list[0]["domains"].size() == 2 && list[0]["domains"][0] == "own" + std::to_string(i) + ".example.com") continue;
    EXPECT_EQ(api("POST", bases[1] + "/api/routes", routeJson("own" + std::to_string(i) + ".example.com")).status,
              201);
  }
}

struct BadRoute {
  std::string name;
  std::string body;
  int status;
  std::string field;  // "" when the error has none (invalid JSON)
};

TEST_F(RouteRegistryTest, BadRoutesAreRefusedWithFieldAndNothingIsWritten) {
  auto& reg = startRegistry();
  ASSERT_EQ(api("POST", reg.base + "/api/routes", routeJson("taken.example.com")).status, 201);
  const auto revisionBefore = api("GET", reg.base + "/api/routes/status").json()["revision"];

  const std::string up = R"("upstreams":["http://127.0.0.1:3000"])";
  const std::vector<BadRoute> cases = {
      {"invalid JSON", R"({"domains":)", 400, ""},
      {"not an object", R"(["a.example.com"])", 400, ""},
      {"bad hostname", R"({"domains":["bad_host.example.com"],)" + up + "}", 422, "domains[0]"},
      {"empty label", R"({"domains":["a..example.com"],)" + up + "}", 422, "domains[0]"},
      {"label too long", R"({"domains":[")" + std::string(64, 'a') + R"(.com"],)" + up + "}", 422, "domains[0]"},
      {"wildcard not leftmost", R"({"domains":["a.*.example.com"],)" + up + "}", 422, "domains[0]"},
      {"wildcard on a TLD", R"({"domains":["*.com"],)" + up + "}", 422, "domains[0]"},
      {"port in domain", R"({"domains":["a.example.com:8080"],)" + up + "}", 422, "domains[0]"},
      {"second domain bad", R"({"domains":["ok.example.com","-bad.example.com"],)" + up + "}", 422, "domains[1]"},
      {"duplicate after lower-casing", R"({"domains":["a.example.com","A.example.com"],)" + up + "}", 422, "domains[1]"},
      {"dashboard host reserved", R"({"domains":["dash.test"],)" + up + "}", 422, "domains[0]"},
      {"no domains", R"({"domains":[],)" + up + "}", 422, "domains"},
      {"missing domains", "{" + up + "}", 422, "domains"},
      {"empty upstreams", R"({"domains":["a.example.com"],"upstreams":[]})", 422, "upstreams"},
      {"bad upstream scheme", R"({"domains":["a.example.com"],"upstreams":["ftp://x:21"]})", 422, "upstreams[0]"},
      {"upstream without host", R"({"domains":["a.example.com"],"upstreams":["http://"]})", 422, "upstreams[0]"},
      {"upstream bad port", R"({"domains":["a.example.com"],"upstreams":["http://x:99999"]})", 422, "upstreams[0]"},
      {"unknown field", R"({"domains":["a.example.com"],"colour":"red",)" + up + "}", 422, "colour"},
      {"unknown nested field",
       R"({"domains":["a.example.com"],"requestHeaders":{"add":{}},)" + up + "}", 422, "requestHeaders.add"},
      {"string for array", R"({"domains":"a.example.com",)" + up + "}", 422, "domains"},
      {"number for bool", R"({"domains":["a.example.com"],"enabled":1,)" + up + "}", 422, "enabled"},
      {"bad tlsMode", R"({"domains":["a.example.com"],"tlsMode":"on",)" + up + "}", 422, "tlsMode"},
      {"forceHttps without TLS", R"({"domains":["a.example.com"],"forceHttps":true,)" + up + "}", 422, "forceHttps"},
      {"sso without provider", R"({"domains":["a.example.com"],"ssoEnabled":true,)" + up + "}", 422, "ssoProviderId"},
      {"pathPrefix without slash", R"({"domains":["a.example.com"],"pathPrefix":"api",)" + up + "}", 422, "pathPrefix"},
      {"header value with CRLF",
       R"({"domains":["a.example.com"],"requestHeaders":{"set":{"X-A":"a\r\nb"}},)" + up + "}", 422,
       "requestHeaders.set.X-A"},
      {"domain already claimed", R"({"domains":["taken.example.com"],)" + up + "}", 409, "domains[0]"},
  };
  ASSERT_GE(cases.size(), 20u);
  for (const auto& c : cases) {
    auto r = api("POST", reg.base + "/api/routes", c.body);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body;
    EXPECT_EQ(r.errorField(), c.field) << c.name << ": " << r.body;
    EXPECT_FALSE(r.errorCode().empty()) << c.name << ": " << r.body;
  }
  // Body over 1 MiB, with and without Content-Length.
  const std::string huge = R"({"name":")" + std::string(1100000, 'a') + R"("})";
  auto tooBig = api("POST", reg.base + "/api/routes", huge);
  EXPECT_EQ(tooBig.status, 413) << tooBig.body;
  EXPECT_EQ(tooBig.errorCode(), "payload_too_large");

  EXPECT_EQ(api("GET", reg.base + "/api/routes/status").json()["revision"], revisionBefore)
      << "a refused request wrote something";
  EXPECT_EQ(api("GET", reg.base + "/api/routes").json()["routes"].size(), 1u);
}

TEST_F(RouteRegistryTest, RecoversFromNatsRestartWithoutRestartingItself) {
  auto& reg = startRegistry();
  ASSERT_EQ(api("POST", reg.base + "/api/routes", routeJson("before.example.com")).status, 201);
  nats.kill();
  auto down = api("POST", reg.base + "/api/routes", routeJson("during.example.com"));
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_EQ(down.errorCode(), "nats_unavailable");
  EXPECT_EQ(httpRequest("GET", reg.base + "/readyz").status, 503);

  nats.restart();
  ASSERT_TRUE(testing::waitUntil([&] { return httpRequest("GET", reg.base + "/readyz").status == 200; }, 15s));
  auto after = api("POST", reg.base + "/api/routes", routeJson("after.example.com"));
  EXPECT_EQ(after.status, 201) << after.body;
  EXPECT_TRUE(reg.process.running());
  auto list = api("GET", reg.base + "/api/routes").json()["routes"];
  EXPECT_EQ(list.size(), 2u) << list.dump();
}

TEST_F(RouteRegistryTest, FiltersExportImportAndStatus) {
  auto& reg = startRegistry();
  auto sso = startSsoProvider();
  auto provider = api("POST", sso.base + "/api/sso-providers",
                      R"({"name":"Authelia","type":"authelia","forwardAuthUrl":"http://authelia:9091/api/authz/forward-auth",)"
                      R"("loginUrl":"https://auth.example.com/"})");
  ASSERT_EQ(provider.status, 201) << provider.body;
  const std::string providerId = provider.json()["id"];
  ASSERT_EQ(api("POST", reg.base + "/api/routes",
                routeJson("a.example.com", R"(,"ssoEnabled":true,"ssoProviderId":")" + providerId + "\"")).status,
            201);
  ASSERT_EQ(api("POST", reg.base + "/api/routes", routeJson("b.example.com")).status, 201);
  EXPECT_EQ(api("GET", reg.base + "/api/routes?domain=B.example.com").json()["routes"].size(), 1u);
  EXPECT_EQ(api("GET", reg.base + "/api/routes?ssoProviderId=" + providerId).json()["routes"].size(), 1u);

  auto exported = api("GET", reg.base + "/api/routes/export");
  ASSERT_EQ(exported.status, 200);
  EXPECT_EQ(exported.json()["routes"].size(), 2u);
  auto status = api("GET", reg.base + "/api/routes/status").json();
  EXPECT_GT(status["revision"].get<uint64_t>(), 0u);
  EXPECT_TRUE(status["edges"].is_array());

  // Re-importing an export updates in place; a bad item rejects the whole import.
  auto again = api("POST", reg.base + "/api/routes/import", exported.body);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json()["updated"], 2);
  auto doc = exported.json();
  doc["routes"].push_back({{"domains", {"new.example.com"}}, {"upstreams", {"http://x:1"}}});
  doc["routes"].push_back({{"domains", {"*.*.example.com"}}, {"upstreams", {"http://x:1"}}});
  auto bad = api("POST", reg.base + "/api/routes/import", doc.dump());
  EXPECT_EQ(bad.status, 422) << bad.body;
  EXPECT_EQ(bad.errorField(), "routes[3].domains[0]");
  EXPECT_EQ(api("GET", reg.base + "/api/routes?domain=new.example.com").json()["routes"].size(), 0u);
}

TEST_F(RouteRegistryTest, AdminApiNeedsAuthViewerReadsAdminWritesCookieNeedsOrigin) {
  auto& reg = startRegistry();
  const std::string url = reg.base + "/api/routes";
  const std::string body = routeJson("auth.example.com");
  auto none = httpRequest("GET", url);
  EXPECT_EQ(none.status, 401) << none.body;
  EXPECT_EQ(none.errorCode(), "unauthenticated");

  const auto viewer = testing::issueSessionCookie(redis.url(), kSecret, session::Role::Viewer, "viewer");
  EXPECT_EQ(httpRequest("GET", url, "", {{"Cookie", viewer}}).status, 200);
  auto viewerWrite = httpRequest("POST", url, body, {{"Cookie", viewer}, {"Origin", kOrigin}});
  EXPECT_EQ(viewerWrite.status, 403) << viewerWrite.body;
  EXPECT_EQ(viewerWrite.errorCode(), "forbidden");

  const auto user = testing::issueSessionCookie(redis.url(), kSecret, session::Role::User, "sso-only");
  EXPECT_EQ(httpRequest("GET", url, "", {{"Cookie", user}}).status, 403);

  auto noOrigin = httpRequest("POST", url, body, {{"Cookie", adminCookie}});
  EXPECT_EQ(noOrigin.status, 403) << noOrigin.body;
  EXPECT_EQ(noOrigin.errorCode(), "csrf");
  auto otherOrigin = httpRequest("POST", url, body, {{"Cookie", adminCookie}, {"Origin", "http://evil.test"}});
  EXPECT_EQ(otherOrigin.errorCode(), "csrf");

  // A cookie signed with another secret, and one with its MAC altered.
  const auto foreign = testing::issueSessionCookie(redis.url(), std::string(32, 'x'), session::Role::Admin);
  auto unknownKey = httpRequest("GET", url, "", {{"Cookie", foreign}});
  EXPECT_EQ(unknownKey.status, 401);
  EXPECT_NE(unknownKey.body.find("unknown_signing_secret"), std::string::npos) << unknownKey.body;
  std::string forged = adminCookie;
  // Inside the MAC (the last base64url character carries padding bits).
  char& c = forged[forged.size() - 5];
  c = c == 'a' ? 'b' : 'a';
  auto badMac = httpRequest("GET", url, "", {{"Cookie", forged}});
  EXPECT_EQ(badMac.status, 401);
  EXPECT_NE(badMac.body.find("invalid_signature"), std::string::npos) << badMac.body;

  // Tokens are checked by the auth service; here it is down: fail closed.
  auto token = httpRequest("GET", url, "", {{"Authorization", "Bearer pxat_abc.def"}});
  EXPECT_EQ(token.status, 503) << token.body;

  EXPECT_EQ(api("POST", url, body).status, 201);
  EXPECT_EQ(api("GET", url).json()["routes"].size(), 1u);
}

TEST_F(RouteRegistryTest, MetricsAndRequestIds) {
  auto& reg = startRegistry();
  auto r = api("GET", reg.base + "/api/routes", "", {{"X-Request-Id", "trace-123"}});
  EXPECT_EQ(r.header("X-Request-Id"), "trace-123");
  auto m = api("GET", reg.base + "/metrics");
  EXPECT_NE(m.body.find(R"(route="/api/routes",status="200")"), std::string::npos) << m.body;
}

// --help and start-up errors: one line naming the variable, exit code 2.
TEST(RouteRegistryCli, HelpAndConfigErrors) {
  testing::TempDir dir;
  auto run = [&](const std::map<std::string, std::string>& env, std::vector<std::string> args, std::string& out) {
    const std::string log = dir.path() + "/cli.log";
    std::remove(log.c_str());
    auto p = ChildProcess::start(kBinary, args, env, log);
    auto code = p.wait(10s);
    out = testing::readFile(log);
    return code.value_or(-1);
  };
  std::string out;
  EXPECT_EQ(run({}, {"--help"}, out), 0);
  for (const char* var : {"PROXYOS_SECRET", "PROXYOS_NATS_URL", "PROXYOS_LISTEN", "PROXYOS_URL", "PROXYOS_LOG_FORMAT"})
    EXPECT_NE(out.find(var), std::string::npos) << var;

  EXPECT_EQ(run({{"PROXYOS_SECRET", ""}}, {}, out), 2);
  EXPECT_EQ(out, "proxyos-route-registry: configuration error: PROXYOS_SECRET is required but not set\n");
  EXPECT_EQ(run({{"PROXYOS_SECRET", "short"}}, {}, out), 2);
  EXPECT_NE(out.find("PROXYOS_SECRET must be at least 32 bytes"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_EQ(run({{"PROXYOS_SECRET", kSecret}, {"PROXYOS_LISTEN", "nowhere"}}, {}, out), 2);
  EXPECT_NE(out.find("PROXYOS_LISTEN"), std::string::npos) << out;
}

}  // namespace
}  // namespace proxyos
