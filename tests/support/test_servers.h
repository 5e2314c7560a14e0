#pragma once
// Real Redis and NATS servers for integration tests, each on free loopback
// ports in its own temp directory. Neither starts in the constructor: call
// start(). Both are killed when the object goes away (and when the test
// process dies, see ChildProcess).
#include <cstdint>
#include <string>
#include <vector>

#include "tests/support/server_process.h"

namespace proxyos::testing {

/// redis-server's command line for a test server on `port` keeping its
/// files in `dir`: loopback only, no persistence, in the foreground.
std::vector<std::string> redisServerArgs(uint16_t port, const std::string& dir);

/// redis-server with no persistence. Ready = it answers INFO with its own pid.
/// restart() keeps the port (data is lost: nothing is saved).
class RedisServer {
 public:
  explicit RedisServer(std::string password = "");
  RedisServer(const RedisServer&) = delete;  // the server's callbacks point at this object
  RedisServer& operator=(const RedisServer&) = delete;

  void start();
  void stop();
  void kill();
  void restart();

  uint16_t port() const { return server_.port(); }
  /// redis://[:password@]127.0.0.1:PORT/DB
  std::string url(int db = 0) const;
  const std::string& password() const { return password_; }
  std::string logPath() const { return server_.logPath(); }

 private:
  std::string password_;
  ServerProcess server_;
};

/// nats-server with JetStream, storage in its temp directory. Ready = the
/// monitoring port's /healthz answers 200 (it checks JetStream) and /varz names
/// this server. restart() keeps the ports and the storage, so KV buckets survive.
class NatsServer {
 public:
  NatsServer();
  NatsServer(const NatsServer&) = delete;  // the server's callbacks point at this object
  NatsServer& operator=(const NatsServer&) = delete;

  void start();
  void stop();     // graceful (SIGTERM)
  void kill();     // SIGKILL, as in a crash
  void restart();  // stop if running, then start on the same port and storage

  uint16_t port() const { return server_.port(); }
  uint16_t monitorPort() const { return server_.ports().size() > 1 ? server_.ports()[1] : 0; }
  /// nats://127.0.0.1:PORT
  std::string url() const;
  std::string logPath() const { return server_.logPath(); }

 private:
  std::string name_;
  ServerProcess server_;
};

}  // namespace proxyos::testing
