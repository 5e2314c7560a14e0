#include "tests/support/redis_sentinel.h"

#include <chrono>
#include <fstream>
#include <vector>

#include "shared/redis/sentinel.h"
#include "tests/support/test_servers.h"

namespace proxyos::testing {
namespace {

using namespace std::chrono_literals;

// INFO carries process_id: only our own child can answer with its pid. (A
// Sentinel answers INFO but not QUIT, so the probe reads one reply instead of
// waiting for the server to close.)
bool answersAsPid(uint16_t port, pid_t pid) {
  redis::ClientOptions o;
  o.endpoint.host = "127.0.0.1";
  o.endpoint.port = port;
  o.connectTimeout = 300ms;
  o.ioTimeout = 500ms;
  redis::Client probe(o);
  auto reply = probe.command({"INFO", "server"});
  return reply && reply.value().str.find("\r\nprocess_id:" + std::to_string(pid) + "\r\n") != std::string::npos;
}

}  // namespace

std::string redisAddress(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

RedisNode::RedisNode(std::optional<uint16_t> replicaOf)
    : replicaOf_(replicaOf),
      server_(ServerProcess::Spec{
          .name = "redis-node",
          .binary = "redis-server",
          .portCount = 1,
          .args =
              [this](const std::vector<uint16_t>& ports, const std::string& dir) {
                auto args = redisServerArgs(ports[0], dir);
                // A full sync starts at once, not after the default 5 s.
                args.insert(args.end(), {"--repl-diskless-sync-delay", "0"});
                if (replicaOf_) {
                  args.insert(args.end(), {"--replicaof", "127.0.0.1", std::to_string(*replicaOf_)});
                }
                return args;
              },
          .ready = [](const std::vector<uint16_t>& ports, pid_t pid) { return answersAsPid(ports[0], pid); },
          .env = {},
          .startTimeout = 10s,
      }) {}

SentinelNode::SentinelNode(uint16_t monitored, std::string master)
    : monitored_(monitored),
      master_(std::move(master)),
      server_(ServerProcess::Spec{
          .name = "redis-sentinel",
          .binary = "redis-server",
          .portCount = 1,
          .args =
              [this](const std::vector<uint16_t>& ports, const std::string& dir) {
                const std::string conf = dir + "/sentinel.conf";
                // down-after 2000, not 1000: Sentinel sends the first PING on a
                // new link one ping period (1 s) after making it, and counts the
                // link as unanswered from the start. With down-after equal to
                // that period a just-promoted primary was marked +sdown about
                // 1.0 s after +switch-master (1 run in 4 under load), and the
                // Sentinel (quorum 1) failed over a second time.
                std::ofstream out(conf, std::ios::trunc);
                out << "port " << ports[0] << "\nbind 127.0.0.1\ndir " << dir << "\n"
                    << "sentinel monitor " << master_ << " 127.0.0.1 " << monitored_ << " 1\n"
                    << "sentinel down-after-milliseconds " << master_ << " 2000\n"
                    << "sentinel failover-timeout " << master_ << " 5000\n";
                return std::vector<std::string>{conf, "--sentinel"};
              },
          .ready = [](const std::vector<uint16_t>& ports, pid_t pid) { return answersAsPid(ports[0], pid); },
          .env = {},
          .startTimeout = 10s,
      }) {}

redis::ClientOptions directRedis(uint16_t port) {
  redis::ClientOptions o;
  o.endpoint.host = "127.0.0.1";
  o.endpoint.port = port;
  o.connectTimeout = 500ms;
  o.ioTimeout = 1000ms;
  return o;
}

std::string redisRoleAt(uint16_t port) {
  redis::Client c(directRedis(port));
  auto r = c.command({"ROLE"});
  return r ? redis::roleOf(r.value()) : "";
}

int redisReplicasAt(uint16_t port) {
  redis::Client c(directRedis(port));
  auto r = c.command({"ROLE"});
  return r ? redis::connectedReplicasOf(r.value()) : -1;
}

std::string sentinelNames(uint16_t sentinelPort, const std::string& master) {
  auto a = redis::askSentinel(HostPort{"127.0.0.1", sentinelPort}, master, 500ms);
  return a ? a.value().host + ":" + std::to_string(a.value().port) : "";
}

bool sentinelKnowsAReplica(uint16_t sentinelPort, const std::string& master) {
  redis::Client c(directRedis(sentinelPort));
  auto r = c.command({"SENTINEL", "replicas", master});
  return r && r.value().type == redis::Reply::Type::Array && !r.value().elements.empty();
}

}  // namespace proxyos::testing
