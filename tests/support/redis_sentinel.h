#pragma once
// Redis behind Sentinel for integration tests: a primary, replicas
// (--replicaof) and Sentinels (redis-server --sentinel), each a real process
// on free loopback ports in its own temp directory. Nothing is mocked: a
// failover is a real SIGKILL and a real Sentinel decision.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "shared/redis/redis_client.h"
#include "tests/support/server_process.h"

namespace proxyos::testing {

/// The master name the Sentinels monitor unless told otherwise
/// (PROXYOS_REDIS_MASTER's default).
inline constexpr const char* kSentinelMaster = "proxyos";

/// "127.0.0.1:<port>", the form Sentinel and redis::Client::primary() use.
std::string redisAddress(uint16_t port);

/// redis-server without persistence; a replica of `replicaOf` when set.
/// Ready = it answers INFO with its own pid. start() after kill() keeps the
/// port and comes back empty (nothing is saved).
class RedisNode {
 public:
  explicit RedisNode(std::optional<uint16_t> replicaOf = std::nullopt);
  RedisNode(const RedisNode&) = delete;  // the server's callbacks point at this object
  RedisNode& operator=(const RedisNode&) = delete;

  void start() { server_.start(); }
  void kill() { server_.kill(); }  // SIGKILL, as in a crash
  bool running() { return server_.running(); }
  pid_t pid() const { return server_.pid(); }
  uint16_t port() const { return server_.port(); }
  std::string address() const { return redisAddress(port()); }
  std::string logTail() const { return server_.logTail(); }

 private:
  std::optional<uint16_t> replicaOf_;
  ServerProcess server_;
};

/// redis-server --sentinel monitoring `master` at 127.0.0.1:<monitored>,
/// quorum 1, down-after 2000 ms, failover-timeout 5000 ms. The config lives
/// in the Sentinel's own directory: Sentinel rewrites it.
class SentinelNode {
 public:
  explicit SentinelNode(uint16_t monitored, std::string master = kSentinelMaster);
  SentinelNode(const SentinelNode&) = delete;
  SentinelNode& operator=(const SentinelNode&) = delete;

  void start() { server_.start(); }
  uint16_t port() const { return server_.port(); }
  std::string address() const { return redisAddress(port()); }
  std::string logTail() const { return server_.logTail(); }

 private:
  uint16_t monitored_;
  std::string master_;
  ServerProcess server_;
};

/// Client options for one server at 127.0.0.1:port, no Sentinel (500 ms
/// connect, 1 s I/O).
redis::ClientOptions directRedis(uint16_t port);
/// What the server at `port` says its ROLE is ("master", "slave",
/// "sentinel"), "" when it does not answer; on a connection of its own.
std::string redisRoleAt(uint16_t port);
/// Replicas a primary lists in ROLE; -1 when it is not a primary or does not answer.
int redisReplicasAt(uint16_t port);
/// Where the Sentinel at `sentinelPort` says the primary `master` is
/// ("127.0.0.1:6379"), "" when it does not answer.
std::string sentinelNames(uint16_t sentinelPort, const std::string& master = kSentinelMaster);
/// True once that Sentinel lists at least one replica of `master`.
bool sentinelKnowsAReplica(uint16_t sentinelPort, const std::string& master = kSentinelMaster);

}  // namespace proxyos::testing
