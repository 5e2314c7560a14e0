// proxyos-sso-provider as an operator runs it: real NATS and Redis, the real
// binary, and real forward-auth endpoints to test against — an nginx started
// here (plain and TLS with a self-signed certificate), a closed port, and a
// server that accepts and never answers.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "shared/core/clock.h"
#include "tests/support/http_client.h"
#include "tests/support/loopback.h"
#include "tests/support/process.h"
#include "tests/support/server_process.h"
#include "tests/support/service_process.h"
#include "tests/support/session_fixture.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_servers.h"

namespace proxyos {
namespace {

using testing::httpRequest;
using testing::HttpResult;
using Json = nlohmann::json;

const std::string kBinary = std::string(PROXYOS_BIN_DIR) + "/proxyos-sso-provider";
const std::string kSecret = "0123456789abcdef0123456789abcdef";
const std::string kOrigin = "http://dash.test:8080";

std::string findNginx() {
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  path += ":/usr/sbin:/usr/local/sbin";  // where Debian puts it, often not on a user's PATH
  for (size_t start = 0; start <= path.size();) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    const std::string candidate = path.substr(start, end - start) + "/nginx";
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

/// nginx as four kinds of forward-auth endpoint, on ports[0], and TLS with a
/// self-signed certificate on ports[1]. One process (master_process off), so
/// killing it when the test ends leaves no worker behind.
class Nginx {
 public:
  Nginx(const std::string& binary, std::string certDir)
      : token_("proxyos-test-nginx-" + std::to_string(::getpid())),
        certDir_(std::move(certDir)),
        server_(testing::ServerProcess::Spec{
            .name = "nginx",
            .binary = binary,
            .portCount = 2,
            .args = [this](const std::vector<uint16_t>& ports,
                           const std::string& dir) { return writeConfig(ports, dir); },
            .ready = [this](const std::vector<uint16_t>& ports, pid_t) { return answersAsUs(ports[0]); },
            .env = {},
            .startTimeout = std::chrono::seconds(10)}) {}

  void start() { server_.start(); }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port(0)) + path; }
  std::string tlsUrl(const std::string& path) const { return "https://127.0.0.1:" + std::to_string(port(1)) + path; }

 private:
  uint16_t port(size_t i) const { return server_.ports()[i]; }

  bool answersAsUs(uint16_t port) const {
    auto reply = testing::loopbackRoundTrip(
        port, "GET /whoami HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", std::chrono::milliseconds(500));
    return reply && reply->find(token_) != std::string::npos;
  }

  std::vector<std::string> writeConfig(const std::vector<uint16_t>& ports, const std::string& dir) const {
    const std::string listen = "127.0.0.1:" + std::to_string(ports[0]);
    std::ofstream(dir + "/nginx.conf")
        << "master_process off;\nevents { worker_connections 64; }\nhttp {\n  access_log off;\n"
        << "  client_body_temp_path " << dir << "/body;\n  proxy_temp_path " << dir << "/proxy;\n"
        << "  fastcgi_temp_path " << dir << "/fastcgi;\n  uwsgi_temp_path " << dir << "/uwsgi;\n"
        << "  scgi_temp_path " << dir << "/scgi;\n"
        << "  server {\n    listen " << listen << ";\n"
        << "    location = /whoami { return 200 \"" << token_ << "\"; }\n"
        << "    location = /ok { add_header Remote-User alice always; add_header Remote-Email a@example.com always;"
        << " add_header Remote-Groups \"admins,dev\" always; return 200; }\n"
        << "    location = /missing { add_header Remote-User alice always;"
        << " add_header remote-email a@example.com always; return 200; }\n"
        << "    location = /login { return 302 https://auth.example.com/login; }\n"
        << "    location = /deny { return 401; }\n"
        << "    location / { return 404; }\n  }\n"
        << "  server {\n    listen 127.0.0.1:" << ports[1] << " ssl;\n"
        << "    ssl_certificate " << certDir_ << "/cert.pem;\n    ssl_certificate_key " << certDir_ << "/key.pem;\n"
        << "    location / { return 200; }\n  }\n}\n";
    return {"-p", dir + "/", "-c", dir + "/nginx.conf", "-e", dir + "/error.log", "-g",
            "daemon off; pid " + dir + "/nginx.pid; error_log " + dir + "/error.log;"};
  }

  std::string token_;
  std::string certDir_;
  testing::ServerProcess server_;
};

/// Accepts TCP connections and never answers: each is held until the server
/// goes away at the end of the test (a stall of 3 s and more). Its thread
/// waits in poll(), woken by a pipe.
class StallServer {
 public:
  StallServer() {
    listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listen_ < 0 || ::bind(listen_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_, 8) != 0 || ::getsockname(listen_, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
        ::pipe2(wake_, O_CLOEXEC) != 0)
      throw std::runtime_error("StallServer: cannot listen on 127.0.0.1");
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~StallServer() {
    const char stop = 1;
    if (::write(wake_[1], &stop, 1) != 1) std::abort();
    thread_.join();
    for (int fd : {listen_, wake_[0], wake_[1]}) ::close(fd);
  }
  uint16_t port() const { return port_; }
  int accepted() const { return accepted_.load(); }

 private:
  void run() {
    std::vector<int> clients;
    for (;;) {
      pollfd fds[2] = {{wake_[0], POLLIN, 0}, {listen_, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) continue;
      if (fds[0].revents != 0) break;
      if (int c = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC); c >= 0) {
        clients.push_back(c);
        ++accepted_;
      }
    }
    for (int c : clients) ::close(c);
  }
  int listen_ = -1;
  int wake_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

class SsoProviderServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string nginxBinary = findNginx();
    ASSERT_FALSE(nginxBinary.empty()) << "nginx not found (PATH, /usr/sbin): run scripts/bootstrap, which installs "
                                         "nginx-light for these tests";
    auto openssl = testing::ChildProcess::start(
        "openssl",
        {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
         dir.path() + "/key.pem", "-out", dir.path() + "/cert.pem", "-days", "1", "-subj", "/CN=localhost"},
        {}, dir.path() + "/openssl.log");
    ASSERT_EQ(openssl.wait(std::chrono::seconds(20)), 0) << "openssl req failed: run scripts/bootstrap";
    nginx.emplace(nginxBinary, dir.path());
    nginx->start();
    nats.start();
    redis.start();
    admin = testing::issueSessionCookie(redis.url(), kSecret, session::Role::Admin, "admin");
    viewer = testing::issueSessionCookie(redis.url(), kSecret, session::Role::Viewer, "viewer");
    // The real route-registry answers "which routes use this provider".
    const uint16_t ssoPort = testing::freePort(), registryPort = testing::freePort();
    const std::map<std::string, std::string> env{{"PROXYOS_SECRET", kSecret},
                                                 {"PROXYOS_NATS_URL", nats.url()},
                                                 {"PROXYOS_REDIS_URL", redis.url()},
                                                 {"PROXYOS_AUTH_URL", "http://127.0.0.1:1"},
                                                 {"PROXYOS_REGISTRY_URL", "http://127.0.0.1:" + std::to_string(registryPort)},
                                                 {"PROXYOS_SSO_URL", "http://127.0.0.1:" + std::to_string(ssoPort)},
                                                 {"PROXYOS_URL", kOrigin},
                                                 {"PROXYOS_DATA_DIR", dir.path()},
                                                 {"PROXYOS_LOG_FORMAT", "json"}};
    registry = testing::startService(std::string(PROXYOS_BIN_DIR) + "/proxyos-route-registry", env,
                                     dir.path() + "/route-registry.log", registryPort);
    service = testing::startService(kBinary, env, dir.path() + "/sso-provider.log", ssoPort);
  }

  HttpResult as(const std::string& cookie, const std::string& method, const std::string& path,
                const std::string& body = "", std::map<std::string, std::string> headers = {}) {
    headers.emplace("Cookie", cookie);
    headers.emplace("Origin", kOrigin);
    return httpRequest(method, service.base + path, body, headers);
  }

  static std::string providerJson(const std::string& forwardAuthUrl, int timeoutMs = 2000) {
    return Json{{"name", "Test"},
                {"type", "generic"},
                {"forwardAuthUrl", forwardAuthUrl},
                {"loginUrl", "https://auth.example.com/login"},
                {"authResponseHeaders", {"Remote-User", "Remote-Email", "Remote-Groups"}},
                {"groupsHeader", "Remote-Groups"},
                {"timeoutMs", timeoutMs}}
        .dump();
  }

  /// Saves a provider for `url` and tests it; `body` is the test request's.
  Json probe(const std::string& url, const std::string& body = "", int timeoutMs = 2000) {
    auto created = as(admin, "POST", "/api/sso-providers", providerJson(url, timeoutMs));
    EXPECT_EQ(created.status, 201) << created.body;
    auto tested = as(admin, "POST", "/api/sso-providers/" + created.json()["id"].get<std::string>() + "/test", body);
    EXPECT_EQ(tested.status, 200) << tested.body;
    return tested.json();
  }

  testing::TempDir dir;
  std::optional<Nginx> nginx;
  testing::NatsServer nats;
  testing::RedisServer redis;
  std::string admin, viewer;
  testing::RunningService registry;
  testing::RunningService service;
};

const std::string kWithCookie = R"({"cookie":"authelia_session=abc"})";

TEST_F(SsoProviderServiceTest, ProbeReportsWhatTheProviderReturned) {
  auto ok = probe(nginx->url("/ok"), kWithCookie);
  EXPECT_EQ(ok["verdict"], "ok") << ok;
  EXPECT_EQ(ok["reachable"], true);
  EXPECT_EQ(ok["status"], 200);
  EXPECT_EQ(ok["missingHeaders"], Json::array());
  EXPECT_EQ(ok["caseHints"], Json::array());
  for (const char* name : {"Remote-User", "Remote-Email", "Remote-Groups"})
    EXPECT_NE(std::find(ok["headersReturned"].begin(), ok["headersReturned"].end(), name),
              ok["headersReturned"].end())
        << name << " in " << ok["headersReturned"];

  auto anonymous = probe(nginx->url("/ok"));
  EXPECT_EQ(anonymous["verdict"], "warning") << anonymous;
  EXPECT_NE(anonymous["message"].get<std::string>().find("Everyone would be let in"), std::string::npos);

  auto missing = probe(nginx->url("/missing"), kWithCookie);
  EXPECT_EQ(missing["verdict"], "warning") << missing;
  EXPECT_EQ(missing["missingHeaders"], Json::array({"Remote-Groups"}));
  EXPECT_EQ(missing["caseHints"], Json::parse(R"([{"configured":"Remote-Email","returned":"remote-email"}])"));
  EXPECT_EQ(missing["message"], "accepted the credentials but did not return Remote-Groups");

  auto login = probe(nginx->url("/login"));
  EXPECT_EQ(login["verdict"], "ok") << login;
  EXPECT_EQ(login["status"], 302);
  EXPECT_EQ(login["redirectLocation"], "https://auth.example.com/login");
  EXPECT_EQ(login["missingHeaders"], Json::array());
  EXPECT_EQ(login["message"],
            "redirects anonymous users to https://auth.example.com/login: looks like a forward-auth endpoint");

  auto deny = probe(nginx->url("/deny"));
  EXPECT_EQ(deny["verdict"], "ok") << deny;
  EXPECT_EQ(deny["status"], 401);
  EXPECT_EQ(deny["missingHeaders"], Json::array());

  auto notFound = probe(nginx->url("/api/verify?x=1"), kWithCookie);
  EXPECT_EQ(notFound["verdict"], "error") << notFound;
  EXPECT_EQ(notFound["status"], 404);
  EXPECT_NE(notFound["message"].get<std::string>().find("not a forward-auth endpoint"), std::string::npos);
}

TEST_F(SsoProviderServiceTest, UnreachableProvidersSayWhy) {
  auto refused = probe("http://127.0.0.1:" + std::to_string(testing::freePort()) + "/verify");
  EXPECT_EQ(refused["reachable"], false) << refused;
  EXPECT_EQ(refused["status"], 0);
  EXPECT_EQ(refused["error"], "connection refused");
  EXPECT_EQ(refused["verdict"], "error");
  EXPECT_EQ(refused["missingHeaders"], Json::array());

  auto selfSigned = probe(nginx->tlsUrl("/ok"), kWithCookie);
  EXPECT_EQ(selfSigned["verdict"], "error") << selfSigned;
  EXPECT_EQ(selfSigned["error"], "TLS handshake failed: self-signed certificate");

  auto notTls = probe("https://" + nginx->url("/ok").substr(7));
  EXPECT_EQ(notTls["verdict"], "error") << notTls;
  EXPECT_EQ(notTls["error"].get<std::string>().rfind("TLS handshake failed: ", 0), 0u) << notTls;
}

TEST_F(SsoProviderServiceTest, ProbeStopsAtTheProvidersTimeout) {
  StallServer stall;
  const auto& clock = SystemClock::instance();
  const auto started = clock.monotonic();
  auto timedOut = probe("http://127.0.0.1:" + std::to_string(stall.port()) + "/auth", "", 1000);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(clock.monotonic() - started);
  EXPECT_LT(took, std::chrono::seconds(2)) << "the server never answers; the probe must give up after 1 s";
  EXPECT_EQ(stall.accepted(), 1) << "the request really reached the stalling server";
  EXPECT_EQ(timedOut["reachable"], false) << timedOut;
  EXPECT_EQ(timedOut["error"], "timed out after 1000 ms");
  EXPECT_EQ(timedOut["verdict"], "error");
  EXPECT_GE(timedOut["latencyMs"].get<int>(), 1000);
}

TEST_F(SsoProviderServiceTest, UnsavedProviderIsValidatedThenTested) {
  auto tested = as(admin, "POST", "/api/sso-providers/test",
                   R"({"provider":)" + providerJson(nginx->url("/login")) + "}");
  ASSERT_EQ(tested.status, 200) << tested.body;
  EXPECT_EQ(tested.json()["verdict"], "ok");
  auto invalid = as(admin, "POST", "/api/sso-providers/test",
                    R"({"provider":)" + providerJson(nginx->url("/login"), -1) + "}");
  EXPECT_EQ(invalid.status, 422) << invalid.body;
  EXPECT_EQ(invalid.errorField(), "provider.timeoutMs");
  EXPECT_EQ(as(admin, "POST", "/api/sso-providers/test", "{}").errorField(), "provider");
}

TEST_F(SsoProviderServiceTest, CrudWithEtagsAndFieldErrors) {
  auto created = as(admin, "POST", "/api/sso-providers", providerJson("http://authelia:9091/api/authz/forward-auth"));
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id = created.json()["id"];
  const std::string etag1 = created.header("ETag");
  EXPECT_EQ(created.header("Location"), "/api/sso-providers/" + id);
  EXPECT_EQ(etag1, "\"" + std::to_string(created.json()["revision"].get<uint64_t>()) + "\"");
  EXPECT_EQ(as(viewer, "GET", "/api/sso-providers/" + id).json(), created.json());

  auto patched = as(admin, "PATCH", "/api/sso-providers/" + id, R"({"cacheTtlSeconds":30})", {{"If-Match", etag1}});
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.json()["cacheTtlSeconds"], 30);
  auto stale = as(admin, "PUT", "/api/sso-providers/" + id, providerJson("http://a/b"), {{"If-Match", etag1}});
  EXPECT_EQ(stale.status, 412) << stale.body;
  auto bad = as(admin, "PUT", "/api/sso-providers/" + id,
                R"({"name":"x","type":"sso","forwardAuthUrl":"ftp://x","loginUrl":"https://l/"})");
  EXPECT_EQ(bad.status, 422);
  EXPECT_EQ(bad.errorField(), "type");
  EXPECT_EQ(bad.json()["error"]["details"][1]["field"], "forwardAuthUrl");

  auto list = as(viewer, "GET", "/api/sso-providers");
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.json()["providers"].size(), 1u);
  EXPECT_EQ(list.json()["providers"][0]["cacheTtlSeconds"], 30);

  EXPECT_EQ(as(admin, "DELETE", "/api/sso-providers/" + id, "", {{"If-Match", etag1}}).status, 412);
  EXPECT_EQ(as(admin, "DELETE", "/api/sso-providers/" + id).status, 204);
  auto gone = as(admin, "GET", "/api/sso-providers/" + id);
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(gone.errorCode(), "provider_not_found");
}

TEST_F(SsoProviderServiceTest, ViewersReadAndListPresetsAdminsWriteAndTest) {
  auto presets = as(viewer, "GET", "/api/sso-providers/presets");
  ASSERT_EQ(presets.status, 200) << presets.body;
  const Json items = presets.json()["presets"];
  ASSERT_EQ(items.size(), 5u);
  EXPECT_EQ(items[4]["type"], "builtin");
  EXPECT_EQ(items[4]["provider"]["forwardAuthUrl"], "http://127.0.0.1:1/api/auth/verify");
  EXPECT_EQ(items[4]["provider"]["loginUrl"], "http://dash.test:8080/login");
  for (const auto& p : items) {  // each can be saved as it is
    auto saved = as(admin, "POST", "/api/sso-providers", p["provider"].dump());
    EXPECT_EQ(saved.status, 201) << p["type"] << ": " << saved.body;
  }
  EXPECT_EQ(as(viewer, "GET", "/api/sso-providers").status, 200);

  const std::string body = providerJson(nginx->url("/login"));
  auto viewerCreate = as(viewer, "POST", "/api/sso-providers", body);
  EXPECT_EQ(viewerCreate.status, 403) << viewerCreate.body;
  EXPECT_EQ(viewerCreate.errorCode(), "forbidden");
  auto viewerTest = as(viewer, "POST", "/api/sso-providers/test", R"({"provider":)" + body + "}");
  EXPECT_EQ(viewerTest.status, 403) << viewerTest.body;
  const std::string id = as(admin, "POST", "/api/sso-providers", body).json()["id"];
  EXPECT_EQ(as(viewer, "POST", "/api/sso-providers/" + id + "/test").status, 403);
  EXPECT_EQ(as(admin, "POST", "/api/sso-providers/" + id + "/test").status, 200);
  EXPECT_EQ(httpRequest("GET", service.base + "/api/sso-providers").status, 401);
}

}  // namespace
}  // namespace proxyos
