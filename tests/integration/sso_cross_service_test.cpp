// route-registry and sso-provider checking each other (issue #4): real
// processes on real NATS and Redis, calling each other with service tokens.
#include <gtest/gtest.h>

#include <deque>

#include "tests/support/http_client.h"
#include "tests/support/loopback.h"
#include "tests/support/read_file.h"
#include "tests/support/service_process.h"
#include "tests/support/session_fixture.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_servers.h"

namespace proxyos {
namespace {

using testing::httpRequest;
using testing::HttpResult;

const std::string kBin = PROXYOS_BIN_DIR;
const std::string kSecret = "cross-service-0123456789abcdef0123456789";
const std::string kOrigin = "http://dash.test:8080";

class SsoCrossServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    nats.start();
    redis.start();
    registryPort = testing::freePort();
    ssoPort = testing::freePort();
    startRegistry();
    startSso();
    admin = testing::issueSessionCookie(redis.url(), kSecret, session::Role::Admin, "admin");
  }

  std::map<std::string, std::string> env() const {
    return {{"PROXYOS_SECRET", kSecret},
            {"PROXYOS_NATS_URL", nats.url()},
            {"PROXYOS_REDIS_URL", redis.url()},
            {"PROXYOS_URL", kOrigin},
            {"PROXYOS_AUTH_URL", "http://127.0.0.1:1"},
            {"PROXYOS_REGISTRY_URL", "http://127.0.0.1:" + std::to_string(registryPort)},
            {"PROXYOS_SSO_URL", "http://127.0.0.1:" + std::to_string(ssoPort)},
            {"PROXYOS_DATA_DIR", dir.path()}};
  }
  void startRegistry() {
    registry.emplace_back(testing::startService(kBin + "/proxyos-route-registry", env(),
                                                dir.path() + "/registry.log", registryPort));
  }
  void startSso() {
    sso.emplace_back(testing::startService(kBin + "/proxyos-sso-provider", env(), dir.path() + "/sso.log", ssoPort));
  }

  HttpResult call(const std::string& method, const std::string& url, const std::string& body = "") {
    return httpRequest(method, url, body, {{"Cookie", admin}, {"Origin", kOrigin}});
  }
  std::string registryUrl() const { return "http://127.0.0.1:" + std::to_string(registryPort); }
  std::string ssoUrl() const { return "http://127.0.0.1:" + std::to_string(ssoPort); }

  std::string createProvider(const std::string& loginUrl = "https://auth.example.com/") {
    auto r = call("POST", ssoUrl() + "/api/sso-providers",
                  nlohmann::json{{"name", "Authelia"},
                                 {"type", "authelia"},
                                 {"forwardAuthUrl", "http://authelia.internal:9091/api/authz/forward-auth"},
                                 {"loginUrl", loginUrl},
                                 {"authResponseHeaders", {"Remote-User", "Remote-Groups"}},
                                 {"groupsHeader", "Remote-Groups"}}
                      .dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.status == 201 ? r.json()["id"].get<std::string>() : "";
  }
  HttpResult createSsoRoute(const std::string& domain, const std::string& providerId) {
    return call("POST", registryUrl() + "/api/routes",
                nlohmann::json{{"domains", {domain}},
                               {"upstreams", {"http://127.0.0.1:3000"}},
                               {"ssoEnabled", true},
                               {"ssoProviderId", providerId}}
                    .dump());
  }

  testing::TempDir dir;
  testing::NatsServer nats;
  testing::RedisServer redis;
  uint16_t registryPort = 0, ssoPort = 0;
  std::deque<testing::RunningService> registry, sso;
  std::string admin;
};

TEST_F(SsoCrossServiceTest, RouteSideRefusesSsoOnTheProvidersOwnHost) {
  const auto id = createProvider();
  auto loop = createSsoRoute("auth.example.com", id);
  EXPECT_EQ(loop.status, 422) << loop.body;
  EXPECT_EQ(loop.errorCode(), "sso_redirect_loop");
  EXPECT_EQ(loop.errorField(), "domains[0]");
  const std::string message = loop.json()["error"]["message"];
  EXPECT_NE(message.find("auth.example.com"), std::string::npos) << message;
  EXPECT_NE(message.find("loginUrl"), std::string::npos) << message;
  EXPECT_EQ(createSsoRoute("grafana.example.com", id).status, 201);
  auto unknown = createSsoRoute("wiki.example.com", "01nosuchprovider000000000");
  EXPECT_EQ(unknown.status, 422) << unknown.body;
  EXPECT_EQ(unknown.errorCode(), "unknown_provider");
  EXPECT_EQ(unknown.errorField(), "ssoProviderId");
}

TEST_F(SsoCrossServiceTest, ProviderSideRefusesMovingItsUrlsOntoAProtectedHost) {
  const auto id = createProvider();
  auto route = createSsoRoute("grafana.example.com", id);
  ASSERT_EQ(route.status, 201) << route.body;
  auto loop = call("PATCH", ssoUrl() + "/api/sso-providers/" + id, R"({"loginUrl":"https://grafana.example.com/login"})");
  EXPECT_EQ(loop.status, 422) << loop.body;
  EXPECT_EQ(loop.errorCode(), "sso_redirect_loop");
  EXPECT_EQ(loop.errorField(), "loginUrl");
  const std::string message = loop.json()["error"]["message"];
  EXPECT_NE(message.find("grafana.example.com"), std::string::npos) << message;
  EXPECT_NE(message.find(route.json()["id"].get<std::string>()), std::string::npos) << message;
  EXPECT_EQ(call("PATCH", ssoUrl() + "/api/sso-providers/" + id, R"({"loginUrl":"https://login.example.com/"})").status,
            200);
}

TEST_F(SsoCrossServiceTest, DeleteInUseListsTheRoutesThenSucceedsOnceThey_AreGone) {
  const auto id = createProvider();
  auto r1 = createSsoRoute("a.example.com", id);
  auto r2 = createSsoRoute("b.example.com", id);
  ASSERT_EQ(r1.status, 201);
  ASSERT_EQ(r2.status, 201);
  auto inUse = call("DELETE", ssoUrl() + "/api/sso-providers/" + id);
  EXPECT_EQ(inUse.status, 409) << inUse.body;
  EXPECT_EQ(inUse.errorCode(), "provider_in_use");
  for (const auto& r : {r1, r2}) EXPECT_NE(inUse.body.find(r.json()["id"].get<std::string>()), std::string::npos);
  for (const auto& r : {r1, r2})
    ASSERT_EQ(call("DELETE", registryUrl() + "/api/routes/" + r.json()["id"].get<std::string>()).status, 204);
  EXPECT_EQ(call("DELETE", ssoUrl() + "/api/sso-providers/" + id).status, 204);
}

TEST_F(SsoCrossServiceTest, WhenTheOtherServiceIsDownWritesFailWith503NamingIt) {
  const auto id = createProvider();
  ASSERT_EQ(createSsoRoute("a.example.com", id).status, 201);
  sso.front().process.terminate();
  auto route = createSsoRoute("b.example.com", id);
  EXPECT_EQ(route.status, 503) << route.body;
  EXPECT_NE(route.body.find("sso-provider"), std::string::npos) << route.body;
  EXPECT_EQ(call("GET", registryUrl() + "/api/routes?domain=b.example.com").json()["routes"].size(), 0u);

  startSso();
  registry.front().process.terminate();
  auto del = call("DELETE", ssoUrl() + "/api/sso-providers/" + id);
  EXPECT_EQ(del.status, 503) << del.body;
  EXPECT_NE(del.body.find("route-registry"), std::string::npos) << del.body;
  EXPECT_EQ(call("GET", ssoUrl() + "/api/sso-providers/" + id).status, 200) << "not deleted unchecked";
}

}  // namespace
}  // namespace proxyos
