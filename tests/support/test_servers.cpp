#include "tests/support/test_servers.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <utility>

#include "tests/support/loopback.h"

namespace proxyos::testing {
namespace {

constexpr std::chrono::milliseconds kProbeTimeout{500};

std::string resp(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

// INFO carries process_id: only our own redis-server can answer with our child's pid.
bool redisAnswersAsPid(uint16_t port, const std::string& password, pid_t pid) {
  std::string request;
  if (!password.empty()) request += resp({"AUTH", password});
  request += resp({"INFO", "server"}) + resp({"QUIT"});
  auto reply = loopbackRoundTrip(port, request, kProbeTimeout);
  return reply && reply->find("\r\nprocess_id:" + std::to_string(pid) + "\r\n") != std::string::npos;
}

std::optional<std::string> httpGet(uint16_t port, const std::string& path) {
  return loopbackRoundTrip(port, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                           kProbeTimeout);
}

bool natsReady(uint16_t monitorPort, const std::string& name) {
  auto health = httpGet(monitorPort, "/healthz");
  if (!health || health->rfind("HTTP/1.1 200", 0) != 0) return false;
  auto varz = httpGet(monitorPort, "/varz");
  return varz && varz->find("\"server_name\": \"" + name + "\"") != std::string::npos;
}

std::string uniqueServerName() {
  static std::atomic<int> counter{0};
  return "proxyos-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

}  // namespace

std::vector<std::string> redisServerArgs(uint16_t port, const std::string& dir) {
  return {"--port", std::to_string(port), "--bind", "127.0.0.1", "--dir", dir,
          "--save", "", "--appendonly", "no", "--daemonize", "no"};
}

RedisServer::RedisServer(std::string password)
    : password_(std::move(password)),
      server_(ServerProcess::Spec{
          .name = "redis-server",
          .binary = "redis-server",
          .portCount = 1,
          .args =
              [this](const std::vector<uint16_t>& ports, const std::string& dir) {
                auto args = redisServerArgs(ports[0], dir);
                // Redis 7 refuses DEBUG (e.g. DEBUG SLEEP) unless enabled.
                args.insert(args.end(), {"--enable-debug-command", "local"});
                if (!password_.empty()) {
                  args.push_back("--requirepass");
                  args.push_back(password_);
                }
                return args;
              },
          .ready = [this](const std::vector<uint16_t>& ports,
                          pid_t pid) { return redisAnswersAsPid(ports[0], password_, pid); },
          .env = {},
          .startTimeout = std::chrono::seconds(10),
      }) {}

void RedisServer::start() { server_.start(); }
void RedisServer::stop() { server_.stop(); }
void RedisServer::kill() { server_.kill(); }
void RedisServer::restart() { server_.restart(); }

std::string RedisServer::url(int db) const {
  std::string auth = password_.empty() ? "" : ":" + password_ + "@";
  return "redis://" + auth + "127.0.0.1:" + std::to_string(port()) + "/" + std::to_string(db);
}

NatsServer::NatsServer()
    : name_(uniqueServerName()),
      server_(ServerProcess::Spec{
          .name = "nats-server",
          .binary = "nats-server",
          .portCount = 2,
          .args =
              [this](const std::vector<uint16_t>& ports, const std::string& dir) {
                return std::vector<std::string>{"-js", "-sd", dir + "/store", "-a", "127.0.0.1",
                                                "-p", std::to_string(ports[0]), "-m", std::to_string(ports[1]),
                                                "-n", name_};
              },
          .ready = [this](const std::vector<uint16_t>& ports, pid_t) { return natsReady(ports[1], name_); },
          .env = {},
          .startTimeout = std::chrono::seconds(10),
      }) {}

void NatsServer::start() { server_.start(); }
void NatsServer::stop() { server_.stop(); }
void NatsServer::kill() { server_.kill(); }
void NatsServer::restart() { server_.restart(); }

std::string NatsServer::url() const { return "nats://127.0.0.1:" + std::to_string(port()); }

}  // namespace proxyos::testing
