#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "shared/core/error.h"
#include "shared/core/url.h"
#include "shared/redis/reply.h"

struct redisContext;

namespace proxyos::redis {

struct ClientOptions {
  RedisEndpoint endpoint;
  std::chrono::milliseconds connectTimeout{1000};
  std::chrono::milliseconds ioTimeout{1000};  // bounds each read and write on the socket
};

/// A synchronous Redis client over one hiredis connection.
///
/// Thread-safe: calls are serialized on one connection behind a mutex, so a
/// slow command delays the others. The connection is made lazily and remade
/// lazily: a call that finds it dead (or closed by the server while idle)
/// reconnects first; a command whose connection fails while it is in flight
/// returns Unavailable and is not retried, since it may have run.
///
/// Errors: a dependency problem (refused, timed out, connection lost, AUTH or
/// SELECT refused) is ErrorKind::Unavailable, code "redis_unavailable"; an
/// error reply to command() is ErrorKind::Internal, code "redis_command_error",
/// with the server's text. Messages never contain the password.
class Client {
 public:
  explicit Client(ClientOptions options);  // does not connect yet
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Runs one command. Arguments are binary-safe.
  Result<Reply> command(const std::vector<std::string>& args);
  /// Sends all commands in one write and reads all replies. An error reply to
  /// one command is a Reply of Type::Error in its place; the batch fails as a
  /// whole only when the connection does (some commands may have run).
  Result<std::vector<Reply>> pipeline(const std::vector<std::vector<std::string>>& commands);
  /// Like pipeline(), but an error reply to any command fails the call (kind
  /// Internal, code redis_command_error, the server's text).
  Result<std::vector<Reply>> pipelineAll(const std::vector<std::vector<std::string>>& commands);
  /// True when the server answers PING.
  bool ping();

  /// Counting seam for tests: caller commands handed to the socket, including
  /// ones whose reply was lost; the AUTH and SELECT of a reconnect are not counted.
  uint64_t commandsSent() const { return commandsSent_.load(); }

 private:
  struct ContextDeleter {
    void operator()(redisContext* c) const;
  };
  using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;

  Status ensureConnectedLocked();
  Result<ContextPtr> connect() const;
  Error unavailable(const std::string& what) const;
  std::string describeFailure(const redisContext* c) const;
  Error connectionLost(const std::string& during);

  ClientOptions options_;
  std::mutex mu_;
  ContextPtr context_;  // guarded by mu_; null = must reconnect before the next command
  std::atomic<uint64_t> commandsSent_{0};
};

}  // namespace proxyos::redis
