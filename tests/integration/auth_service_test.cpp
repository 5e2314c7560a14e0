// proxyos-auth as a user runs it, next to proxyos-route-registry: real
// processes, real Redis and NATS, real HTTP. Issue #3 acceptance 1-5 and 7.
#include <gtest/gtest.h>

#include <deque>
#include <mutex>

#include "shared/redis/redis_client.h"
#include "shared/session/handoff.h"
#include "shared/session/redis_session_store.h"
#include "shared/session/signing_keys.h"
#include "shared/store/nats_connection.h"
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

const std::string kBin = PROXYOS_BIN_DIR;
const std::string kSecretA = "secret-A-0123456789abcdef0123456789abcdef";
const std::string kSecretB = "secret-B-0123456789abcdef0123456789abcdef";
const std::string kAdminPassword = "correct-horse-battery-staple";

using Service = testing::RunningService;

class AuthServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    nats.start();
    redis.start();
  }

  std::map<std::string, std::string> env(std::map<std::string, std::string> extra = {}) const {
    std::map<std::string, std::string> e{{"PROXYOS_SECRET", kSecretA},
                                         {"PROXYOS_NATS_URL", nats.url()},
                                         {"PROXYOS_REDIS_URL", redis.url()},
                                         {"PROXYOS_URL", "http://dash.test:8080"},
                                         {"PROXYOS_ADMIN_USER", "admin"},
                                         {"PROXYOS_ADMIN_PASSWORD", kAdminPassword},
                                         {"PROXYOS_DATA_DIR", dir.path()},
                                         {"PROXYOS_LOG_FORMAT", "json"},
                                         {"PROXYOS_LOG_LEVEL", "debug"}};
    for (auto& [k, v] : extra) e[k] = v;
    return e;
  }

  Service& start(const std::string& binary, std::map<std::string, std::string> extra = {}, uint16_t port = 0) {
    const std::string log = dir.path() + "/" + binary + "-" + std::to_string(services.size()) + ".log";
    services.push_back(testing::startService(kBin + "/" + binary, env(std::move(extra)), log, port));
    return services.back();
  }
  Service& startAuth(std::map<std::string, std::string> extra = {}) { return start("proxyos-auth", std::move(extra)); }
  Service& startRegistry(const Service& auth) {
    return start("proxyos-route-registry", {{"PROXYOS_AUTH_URL", auth.base}});
  }
  /// Restarts a service on the same port with other variables.
  Service& restart(Service& s, const std::string& binary, std::map<std::string, std::string> extra) {
    EXPECT_EQ(s.process.terminate(), 0) << testing::readFile(s.log);
    return start(binary, std::move(extra), s.port);
  }

  /// Logs in; returns "proxyos_session=<value>" (empty on failure).
  static std::string login(const Service& auth, const std::string& user, const std::string& password,
                           HttpResult* out = nullptr) {
    auto r = httpRequest("POST", auth.base + "/api/auth/login",
                         nlohmann::json{{"username", user}, {"password", password}}.dump(), {{"Host", "dash.test:8080"}});
    if (out != nullptr) *out = r;
    if (r.status != 200) return "";
    const std::string sc = r.header("Set-Cookie");
    return sc.substr(0, sc.find(';'));
  }

  testing::TempDir dir;
  testing::NatsServer nats;
  testing::RedisServer redis;
  std::deque<Service> services;
};

TEST_F(AuthServiceTest, LoginCookieMatchesHttpUrl) {
  auto& auth = startAuth();
  HttpResult r;
  const auto cookie = login(auth, "admin", kAdminPassword, &r);
  ASSERT_FALSE(cookie.empty()) << r.status << " " << r.body;
  EXPECT_EQ(r.headerCount("Set-Cookie"), 1);
  const std::string value = cookie.substr(cookie.find('=') + 1);
  EXPECT_EQ(r.header("Set-Cookie"),
            "proxyos_session=" + value + "; Path=/; HttpOnly; SameSite=Lax; Max-Age=2592000");
  EXPECT_EQ(value.substr(0, 8), session::keyId(kSecretA));
  EXPECT_EQ(r.json()["user"]["role"], "admin");
}

TEST_F(AuthServiceTest, LoginCookieMatchesHttpsUrlAndCookieDomain) {
  auto& auth = startAuth({{"PROXYOS_URL", "https://dash.example.com"}, {"PROXYOS_COOKIE_DOMAIN", "example.com"}});
  HttpResult r;
  const auto cookie = login(auth, "admin", kAdminPassword, &r);
  ASSERT_FALSE(cookie.empty()) << r.body;
  EXPECT_EQ(r.headerCount("Set-Cookie"), 1);
  EXPECT_EQ(r.header("Set-Cookie"),
            cookie + "; Path=/; HttpOnly; SameSite=Lax; Secure; Domain=example.com; Max-Age=2592000");
}

TEST_F(AuthServiceTest, SessionSurvivesAuthRestart) {
  auto& auth = startAuth();
  const auto cookie = login(auth, "admin", kAdminPassword);
  ASSERT_FALSE(cookie.empty());
  auto& again = restart(auth, "proxyos-auth", {});
  auto r = httpRequest("GET", again.base + "/api/auth/session", "", {{"Cookie", cookie}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["username"], "admin");
}

TEST_F(AuthServiceTest, LogoutEndsTheSessionAtAuthAndRegistryAndIsAnnounced) {
  auto conn = store::NatsConnection::connect({{nats.url()}, "test", 2000ms}).value();
  std::mutex mu;
  std::vector<std::string> announced;
  auto sub = conn->subscribe("proxyos.session.revoked", [&](const std::string&, const std::string& data) {
    std::lock_guard lock(mu);
    announced.push_back(data);
  });
  ASSERT_TRUE(sub.ok());
  natsConnection_Flush(conn->raw());

  auto& auth = startAuth();
  auto& registry = startRegistry(auth);
  const auto cookie = login(auth, "admin", kAdminPassword);
  ASSERT_FALSE(cookie.empty());
  const std::string sessionId = httpRequest("GET", auth.base + "/api/auth/session", "", {{"Cookie", cookie}}).json()["sessionId"];
  ASSERT_EQ(httpRequest("GET", registry.base + "/api/routes", "", {{"Cookie", cookie}}).status, 200);

  auto csrf = httpRequest("POST", auth.base + "/api/auth/logout", "", {{"Cookie", cookie}});
  EXPECT_EQ(csrf.status, 403) << "logout needs Origin like every cookie-authenticated change";
  EXPECT_EQ(csrf.errorCode(), "csrf");
  auto out = httpRequest("POST", auth.base + "/api/auth/logout", "", {{"Cookie", cookie}, {"Origin", "http://dash.test:8080"}});
  EXPECT_EQ(out.status, 204);
  EXPECT_EQ(out.header("Set-Cookie"), "proxyos_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");

  auto atAuth = httpRequest("GET", auth.base + "/api/auth/session", "", {{"Cookie", cookie}});
  EXPECT_EQ(atAuth.status, 401);
  EXPECT_EQ(atAuth.errorCode(), "session_revoked");
  auto atRegistry = httpRequest("GET", registry.base + "/api/routes", "", {{"Cookie", cookie}});
  EXPECT_EQ(atRegistry.status, 401) << atRegistry.body;
  ASSERT_TRUE(testing::waitUntil(
      [&] {
        std::lock_guard lock(mu);
        return !announced.empty();
      },
      5s));
  std::lock_guard lock(mu);
  EXPECT_EQ(announced, std::vector<std::string>{sessionId});
}

TEST_F(AuthServiceTest, SecretRotationReissuesAndDroppingTheOldSecretIsExplained) {
  auto& auth = startAuth();
  const auto cookieA = login(auth, "admin", kAdminPassword);
  ASSERT_FALSE(cookieA.empty());

  auto& rotated = restart(auth, "proxyos-auth", {{"PROXYOS_SECRET", kSecretB}, {"PROXYOS_SECRET_PREVIOUS", kSecretA}});
  auto r = httpRequest("GET", rotated.base + "/api/auth/session", "", {{"Cookie", cookieA}});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.headerCount("Set-Cookie"), 1);
  const std::string sc = r.header("Set-Cookie");
  const std::string cookieB = sc.substr(0, sc.find(';'));
  EXPECT_EQ(cookieB.substr(std::string("proxyos_session=").size(), 8), session::keyId(kSecretB));
  EXPECT_NE(cookieB, cookieA);
  // Same session: only the signature changed.
  EXPECT_EQ(httpRequest("GET", rotated.base + "/api/auth/session", "", {{"Cookie", cookieB}}).json()["sessionId"],
            r.json()["sessionId"]);

  auto& dropped = restart(rotated, "proxyos-auth", {{"PROXYOS_SECRET", kSecretB}});
  auto old = httpRequest("GET", dropped.base + "/api/auth/session", "", {{"Cookie", cookieA}});
  EXPECT_EQ(old.status, 401);
  EXPECT_EQ(old.errorCode(), "unknown_signing_secret");
  auto why = httpRequest("GET", dropped.base + "/api/auth/diagnose", "", {{"Cookie", cookieA}, {"Host", "dash.test:8080"}});
  EXPECT_EQ(why.json()["cause"], "unknown_signing_secret");
  EXPECT_EQ(httpRequest("GET", dropped.base + "/api/auth/session", "", {{"Cookie", cookieB}}).status, 200);
}

struct DiagnoseCase {
  std::string name;
  std::map<std::string, std::string> headers;
  bool httpsAuth;  // ask the instance whose PROXYOS_URL is https
  std::string cause;
};

TEST_F(AuthServiceTest, DiagnoseNamesEachCause) {
  auto& auth = startAuth();
  auto& httpsAuth = startAuth({{"PROXYOS_URL", "https://dash.test"}});
  const auto live = login(auth, "admin", kAdminPassword);
  const auto revoked = login(auth, "admin", kAdminPassword);
  ASSERT_EQ(httpRequest("POST", auth.base + "/api/auth/logout", "", {{"Cookie", revoked}, {"Origin", "http://dash.test:8080"}}).status,
            204);
  const auto foreign = testing::issueSessionCookie(redis.url(), std::string(40, 'z'), session::Role::Admin);
  const auto shortLived = testing::issueSessionCookie(redis.url(), kSecretA, session::Role::Admin, "brief", {}, 1s);
  // Expiry without sleeping for days: a session written with a 1 s lifetime.
  ASSERT_TRUE(testing::waitUntil(
      [&] { return httpRequest("GET", auth.base + "/api/auth/session", "", {{"Cookie", shortLived}}).status == 401; },
      5s));

  const std::vector<DiagnoseCase> cases = {
      {"Secure cookie, page over http", {{"Host", "dash.test"}}, true, "secure_cookie_over_http"},
      {"opened by IP", {{"Host", "127.0.0.1:8080"}}, false, "host_mismatch"},
      {"rotated-out secret", {{"Host", "dash.test:8080"}, {"Cookie", foreign}}, false, "unknown_signing_secret"},
      {"expired", {{"Host", "dash.test:8080"}, {"Cookie", shortLived}}, false, "session_expired"},
      {"revoked", {{"Host", "dash.test:8080"}, {"Cookie", revoked}}, false, "session_revoked"},
      {"nothing sent", {{"Host", "dash.test:8080"}}, false, "no_cookie_received"},
      {"all good", {{"Host", "dash.test:8080"}, {"Cookie", live}}, false, "ok"},
  };
  for (const auto& c : cases) {
    auto r = httpRequest("GET", (c.httpsAuth ? httpsAuth : auth).base + "/api/auth/diagnose", "", c.headers);
    ASSERT_EQ(r.status, 200) << c.name << ": " << r.body;
    EXPECT_EQ(r.json()["cause"], c.cause) << c.name << ": " << r.body;
    EXPECT_FALSE(r.json()["message"].get<std::string>().empty()) << c.name;
  }
}

TEST_F(AuthServiceTest, LoginWarnsOnceWhenTheBrowserWillDropTheCookie) {
  auto& auth = startAuth({{"PROXYOS_URL", "https://dash.test"}});
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(login(auth, "admin", kAdminPassword).empty());
  const std::string log = testing::readFile(auth.log);
  size_t count = 0;
  for (size_t p = log.find("secure_cookie_over_http"); p != std::string::npos; p = log.find("secure_cookie_over_http", p + 1))
    ++count;
  EXPECT_EQ(count, 1u) << log;
}

TEST_F(AuthServiceTest, RateLimitPerUsernameWithRetryAfterAndOthersUnaffected) {
  auto& auth = startAuth({{"PROXYOS_LOGIN_MAX_FAILURES", "10"}, {"PROXYOS_LOGIN_WINDOW_SECONDS", "3"}});
  const auto admin = login(auth, "admin", kAdminPassword);
  auto created = httpRequest("POST", auth.base + "/api/auth/users",
                             R"({"username":"bob","password":"bobs-long-password","role":"viewer"})",
                             {{"Cookie", admin}, {"Origin", "http://dash.test:8080"}});
  ASSERT_EQ(created.status, 201) << created.body;

  int unauthorized = 0, limited = 0;
  for (int i = 0; i < 20; ++i) {
    HttpResult r;
    login(auth, "admin", "wrong password " + std::to_string(i), &r);
    if (r.status == 401) {
      ++unauthorized;
      EXPECT_EQ(r.errorCode(), "invalid_credentials");
    } else if (r.status == 429) {
      ++limited;
      EXPECT_GT(std::stoi(r.header("Retry-After")), 0);
    } else {
      ADD_FAILURE() << r.status << " " << r.body;
    }
  }
  EXPECT_EQ(unauthorized, 10);
  EXPECT_EQ(limited, 10);
  HttpResult refused;
  EXPECT_TRUE(login(auth, "admin", kAdminPassword, &refused).empty());
  EXPECT_EQ(refused.status, 429);
  EXPECT_FALSE(login(auth, "bob", "bobs-long-password").empty()) << "another user is not locked out";
  // Unknown users get the same answer as wrong passwords.
  HttpResult unknown;
  login(auth, "nobody", "whatever-password", &unknown);
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(unknown.errorCode(), "invalid_credentials");
  // After the window the right password works again.
  EXPECT_TRUE(testing::waitUntil([&] { return !login(auth, "admin", kAdminPassword).empty(); }, 6s, 250ms));
}

// Commands Redis has executed, not counting this probe's INFO and QUIT.
uint64_t redisCommandsOtherThanInfo(uint16_t port) {
  const std::string r = testing::loopbackRoundTrip(port, "INFO commandstats\r\nQUIT\r\n", 2s).value_or("");
  uint64_t total = 0;
  for (size_t p = r.find("cmdstat_"); p != std::string::npos; p = r.find("cmdstat_", p + 1)) {
    const auto colon = r.find(':', p);
    const std::string name = r.substr(p + 8, colon - p - 8);
    const auto calls = r.find("calls=", colon);
    if (name != "info" && name != "quit") total += std::stoull(r.substr(calls + 6));  // the probe's own
  }
  return total;
}

TEST_F(AuthServiceTest, ForgedCookieIsRefusedWithoutAnyRedisCommand) {
  auto& auth = startAuth();
  const auto cookie = login(auth, "admin", kAdminPassword);
  ASSERT_FALSE(cookie.empty());
  std::string forged = cookie;
  forged[forged.size() - 5] = forged[forged.size() - 5] == 'a' ? 'b' : 'a';  // inside the MAC
  const uint64_t before = redisCommandsOtherThanInfo(redis.port());
  auto r = httpRequest("GET", auth.base + "/api/auth/session", "", {{"Cookie", forged}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.errorCode(), "invalid_signature");
  EXPECT_EQ(redisCommandsOtherThanInfo(redis.port()), before);
  // The genuine cookie does reach Redis, so the counter can move.
  ASSERT_EQ(httpRequest("GET", auth.base + "/api/auth/session", "", {{"Cookie", cookie}}).status, 200);
  EXPECT_GT(redisCommandsOtherThanInfo(redis.port()), before);
}

TEST_F(AuthServiceTest, VerifyEndpointForOtherProxies) {
  auto& auth = startAuth({{"PROXYOS_URL", "http://dash.example.com:8080"}, {"PROXYOS_COOKIE_DOMAIN", "example.com"}});
  const auto cookie = login(auth, "admin", kAdminPassword);
  auto ok = httpRequest("GET", auth.base + "/api/auth/verify", "", {{"Cookie", cookie}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.header("X-Auth-User"), "admin");
  EXPECT_EQ(ok.headerCount("X-Auth-Groups"), 1);

  auto api = httpRequest("GET", auth.base + "/api/auth/verify", "", {{"Accept", "application/json"}});
  EXPECT_EQ(api.status, 401);
  const std::map<std::string, std::string> browser{{"Accept", "text/html,application/xhtml+xml"},
                                                   {"X-Forwarded-Proto", "https"},
                                                   {"X-Forwarded-Host", "grafana.example.com"},
                                                   {"X-Forwarded-Uri", "/d/abc?x=1"}};
  auto redirect = httpRequest("GET", auth.base + "/api/auth/verify", "", browser);
  EXPECT_EQ(redirect.status, 302);
  EXPECT_EQ(redirect.header("Location"),
            "http://dash.example.com:8080/login?rd=https%3A%2F%2Fgrafana.example.com%2Fd%2Fabc%3Fx%3D1");
  auto evil = browser;
  evil["X-Forwarded-Host"] = "evil.com";
  EXPECT_EQ(httpRequest("GET", auth.base + "/api/auth/verify", "", evil).header("Location"),
            "http://dash.example.com:8080/login");
}

TEST_F(AuthServiceTest, SessionsCanBeListedAndRevokedByAnAdmin) {
  auto& auth = startAuth();
  const auto admin = login(auth, "admin", kAdminPassword);
  const auto other = login(auth, "admin", kAdminPassword);
  const std::string otherId = httpRequest("GET", auth.base + "/api/auth/session", "", {{"Cookie", other}}).json()["sessionId"];
  auto list = httpRequest("GET", auth.base + "/api/auth/sessions", "", {{"Cookie", admin}});
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.json()["sessions"].size(), 2u);
  EXPECT_EQ(httpRequest("DELETE", auth.base + "/api/auth/sessions/" + otherId, "", {{"Cookie", admin}}).errorCode(),
            "csrf");
  EXPECT_EQ(httpRequest("DELETE", auth.base + "/api/auth/sessions/" + otherId, "",
                        {{"Cookie", admin}, {"Origin", "http://dash.test:8080"}})
                .status,
            204);
  EXPECT_EQ(httpRequest("GET", auth.base + "/api/auth/session", "", {{"Cookie", other}}).errorCode(), "session_revoked");
  EXPECT_EQ(httpRequest("GET", auth.base + "/api/auth/session", "", {{"Cookie", admin}}).status, 200);
}

// Every secret this test handles, searched for in every log line it caused.
TEST_F(AuthServiceTest, NoSecretTokenPasswordOrCookieInAnyLog) {
  auto& auth = startAuth();
  auto& registry = startRegistry(auth);
  const auto cookie = login(auth, "admin", kAdminPassword);
  ASSERT_FALSE(cookie.empty());
  const std::map<std::string, std::string> asAdmin{{"Cookie", cookie}, {"Origin", "http://dash.test:8080"}};
  auto token = httpRequest("POST", auth.base + "/api/auth/tokens", R"({"name":"ci","role":"admin"})", asAdmin);
  ASSERT_EQ(token.status, 201) << token.body;
  const std::string secret = token.json()["secret"];
  const std::string userPassword = "carol-secret-password-42";
  ASSERT_EQ(httpRequest("POST", auth.base + "/api/auth/users",
                        nlohmann::json{{"username", "carol"}, {"password", userPassword}}.dump(), asAdmin)
                .status,
            201);
  login(auth, "carol", "carol-wrong-password-43");
  const auto carol = login(auth, "carol", userPassword);
  ASSERT_EQ(httpRequest("POST", registry.base + "/api/routes",
                        R"({"domains":["logs.example.com"],"upstreams":["http://127.0.0.1:1"]})",
                        {{"Authorization", "Bearer " + secret}})
                .status,
            201);
  httpRequest("GET", registry.base + "/api/routes", "", {{"Authorization", "Bearer " + secret + "x"}});
  ASSERT_EQ(httpRequest("POST", auth.base + "/api/auth/logout", "", asAdmin).status, 204);
  const std::string cookieValue = cookie.substr(cookie.find('=') + 1);
  const std::string tokenPart = cookieValue.substr(9, 43);
  const std::vector<std::string> secrets{kSecretA, kAdminPassword, userPassword, "carol-wrong-password-43",
                                         secret, secret.substr(secret.find('.') + 1), cookieValue, tokenPart,
                                         carol.substr(carol.find('=') + 1)};
  for (auto& s : services) s.process.terminate();
  for (const auto& s : services) {
    const std::string log = testing::readFile(s.log);
    ASSERT_FALSE(log.empty());
    for (const auto& needle : secrets) EXPECT_EQ(log.find(needle), std::string::npos) << s.log << " leaks " << needle.substr(0, 6);
  }
}

// Issue #6: the auth half of the handoff, redeemed here as an edge would
// (redeemHandoff over the same Redis), then the linked cookie checked by auth.
TEST_F(AuthServiceTest, HandoffIssuesACodeForAnAllowedHostAndTheLinkedSessionEndsWithLogout) {
  auto& auth = startAuth({{"PROXYOS_URL", "http://dash.example.com:8080"}, {"PROXYOS_COOKIE_DOMAIN", "example.com"}});
  const auto cookie = login(auth, "admin", kAdminPassword);
  ASSERT_FALSE(cookie.empty());
  const std::string parentId = httpRequest("GET", auth.base + "/api/auth/session", "", {{"Cookie", cookie}}).json()["sessionId"];

  auto r = httpRequest("GET",
                       auth.base + "/api/auth/handoff?rd=http%3A%2F%2Fgrafana.example.com%2Fx&state=" +
                           session::handoffState("nonce"),
                       "", {{"Cookie", cookie}});
  ASSERT_EQ(r.status, 302) << r.body;
  EXPECT_EQ(r.header("Cache-Control"), "no-store");
  EXPECT_EQ(r.header("Referrer-Policy"), "no-referrer");
  const std::string prefix = "http://grafana.example.com/.proxyos/callback?code=";
  const std::string location = r.header("Location");
  ASSERT_EQ(location.substr(0, prefix.size()), prefix) << location;
  const std::string code = location.substr(prefix.size());

  redis::ClientOptions options;
  options.endpoint = parseRedisUrl(redis.url()).value();
  redis::Client client(options);
  session::RedisHandoffStore handoffs(client);
  session::RedisSessionStore sessions(client);
  const session::SigningKeys keys(kSecretA, {});
  const auto linked = session::redeemHandoff(handoffs, sessions, keys, SystemClock::instance(), {}, code,
                                             "grafana.example.com", "nonce", "10.0.0.9", "edge-test");
  ASSERT_EQ(linked.outcome, session::HandoffResult::Outcome::Ok);
  EXPECT_EQ(linked.rd, "http://grafana.example.com/x");
  EXPECT_EQ(linked.session.parentId, parentId);
  const std::string linkedCookie = std::string("proxyos_session=") + linked.cookieValue;

  auto asLinked = httpRequest("GET", auth.base + "/api/auth/session", "", {{"Cookie", linkedCookie}});
  ASSERT_EQ(asLinked.status, 200) << asLinked.body;
  EXPECT_EQ(asLinked.json()["sessionId"], linked.session.id);
  auto list = httpRequest("GET", auth.base + "/api/auth/sessions", "", {{"Cookie", cookie}});
  ASSERT_EQ(list.status, 200) << list.body;
  int linkedListed = 0;
  const auto listed = list.json();
  for (const auto& s : listed["sessions"])
    if (s.value("parentId", "") == parentId) ++linkedListed;
  EXPECT_EQ(linkedListed, 1) << list.body;

  ASSERT_EQ(httpRequest("POST", auth.base + "/api/auth/logout", "",
                        {{"Cookie", cookie}, {"Origin", "http://dash.example.com:8080"}})
                .status,
            204);
  auto after = httpRequest("GET", auth.base + "/api/auth/session", "", {{"Cookie", linkedCookie}});
  EXPECT_EQ(after.status, 401);
  EXPECT_EQ(after.errorCode(), "session_revoked") << "one logout ends the linked session too";

  auth.process.terminate();
  const std::string log = testing::readFile(auth.log);
  EXPECT_NE(log.find("handoff issued"), std::string::npos) << log;
  EXPECT_EQ(log.find(code), std::string::npos) << "the code never reaches a log";
}

TEST_F(AuthServiceTest, HandoffWithoutSessionSendsToLoginAndBack) {
  auto& auth = startAuth({{"PROXYOS_URL", "http://dash.example.com:8080"}, {"PROXYOS_COOKIE_DOMAIN", "example.com"}});
  const std::string state = session::handoffState("nonce");
  auto r = httpRequest("GET", auth.base + "/api/auth/handoff?rd=http%3A%2F%2Fgrafana.example.com%2Fx&state=" + state);
  EXPECT_EQ(r.status, 302) << r.body;
  EXPECT_EQ(r.header("Location"),
            "http://dash.example.com:8080/login?rd=http%3A%2F%2Fdash.example.com%3A8080%2Fapi%2Fauth%2Fhandoff%3Frd%3D"
            "http%253A%252F%252Fgrafana.example.com%252Fx%26state%3D" +
                state);
  EXPECT_EQ(r.header("Cache-Control"), "no-store");
}

TEST_F(AuthServiceTest, HandoffOnTheDashboardHostRedirectsStraightBack) {
  auto& auth = startAuth();  // PROXYOS_URL http://dash.test:8080, no cookie domain
  const auto cookie = login(auth, "admin", kAdminPassword);
  auto r = httpRequest("GET", auth.base + "/api/auth/handoff?rd=http%3A%2F%2Fdash.test%3A8080%2Froutes", "",
                       {{"Cookie", cookie}});
  EXPECT_EQ(r.status, 302) << r.body;
  EXPECT_EQ(r.header("Location"), "http://dash.test:8080/routes");
}

TEST_F(AuthServiceTest, HandoffRefusesOpenRedirects) {
  auto& auth = startAuth({{"PROXYOS_URL", "http://dash.example.com:8080"}, {"PROXYOS_COOKIE_DOMAIN", "example.com"}});
  const auto cookie = login(auth, "admin", kAdminPassword);
  // Each rd as the browser would send it, percent-encoded once in the query.
  for (const std::string encoded : {"http%3A%2F%2Fevil.example%2F", "%2F%2Fevil.example%2F", "%5C%5Cevil.example",
                                    "%2F%252F%252Fevil.example", "http%3A%2F%2Fevil.example%252F%40grafana.example.com%2F",
                                    ""}) {
    auto r = httpRequest("GET", auth.base + "/api/auth/handoff?rd=" + encoded, "", {{"Cookie", cookie}});
    EXPECT_EQ(r.status, 400) << encoded << " " << r.body;
    EXPECT_EQ(r.errorCode(), "invalid_redirect") << encoded;
    EXPECT_EQ(r.errorField(), "rd") << encoded;
    EXPECT_EQ(r.header("Cache-Control"), "no-store") << encoded;
  }
  auto none = httpRequest("GET", auth.base + "/api/auth/handoff", "", {{"Cookie", cookie}});
  EXPECT_EQ(none.status, 400);
  EXPECT_EQ(none.errorField(), "rd");
  // A foreign host without the edge's state: no code for a browser that did not ask.
  auto stateless =
      httpRequest("GET", auth.base + "/api/auth/handoff?rd=http%3A%2F%2Fgrafana.example.com%2Fx", "", {{"Cookie", cookie}});
  EXPECT_EQ(stateless.status, 400);
  EXPECT_EQ(stateless.errorField(), "state");
}

// The login page follows the answer's `redirect`, never `rd` itself: the
// policy that guards the handoff decides, so a login cannot be an open redirect.
TEST_F(AuthServiceTest, LoginAnswersARedirectOnlyForAnRdThePolicyAccepts) {
  auto& auth = startAuth({{"PROXYOS_URL", "http://dash.example.com:8080"}, {"PROXYOS_COOKIE_DOMAIN", "example.com"}});
  auto loginWith = [&](const std::string& rd) {
    return httpRequest("POST", auth.base + "/api/auth/login",
                       nlohmann::json{{"username", "admin"}, {"password", kAdminPassword}, {"rd", rd}}.dump());
  };
  const std::vector<std::pair<std::string, std::string>> accepted{
      {"/routes/abc", "http://dash.example.com:8080/routes/abc"},
      {"/api/auth/handoff?rd=x&state=y", "http://dash.example.com:8080/api/auth/handoff?rd=x&state=y"},
      {"http://grafana.example.com/d?x=1", "http://grafana.example.com/d?x=1"}};
  for (const auto& [rd, expected] : accepted) {
    auto r = loginWith(rd);
    ASSERT_EQ(r.status, 200) << rd << " " << r.body;
    EXPECT_EQ(nlohmann::json::parse(r.body).value("redirect", ""), expected) << rd;
  }
  for (const std::string rd : {"http://evil.test/", "//evil.test/", "/\\evil.test", "javascript:alert(1)", ""}) {
    auto r = loginWith(rd);
    ASSERT_EQ(r.status, 200) << rd << " " << r.body;  // the login itself stands
    EXPECT_FALSE(nlohmann::json::parse(r.body).contains("redirect")) << rd << " " << r.body;
  }
  auto wrongType = httpRequest("POST", auth.base + "/api/auth/login",
                               nlohmann::json{{"username", "admin"}, {"password", kAdminPassword}, {"rd", 5}}.dump());
  EXPECT_EQ(wrongType.status, 422) << wrongType.body;
  EXPECT_EQ(wrongType.errorField(), "rd");
}

}  // namespace
}  // namespace proxyos
