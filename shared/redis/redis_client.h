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
  RedisEndpoint endpoint;  // with endpoint.sentinels set: Sentinel mode
  std::chrono::milliseconds connectTimeout{1000};
  std::chrono::milliseconds ioTimeout{1000};  // bounds each read and write on the socket
  // Sentinel mode only.
  std::chrono::milliseconds sentinelTimeout{500};  // connect, and reply, per Sentinel asked
  int resolveRounds = 2;                           // rounds over every Sentinel before Unavailable
  std::chrono::milliseconds resolveRetryPause{100};
};

/// What the replicas said about a confirmed write (pipelineConfirmed).
struct WriteConfirmation {
  enum class Outcome {
    Confirmed,    // at least the wanted number of replicas acknowledged it
    NoReplica,    // the primary had no replica connected: WAIT not sent
    Unconfirmed,  // replicas were connected but too few acknowledged in time
  };
  Outcome outcome = Outcome::NoReplica;
  int replicas = 0;  // replicas connected to the primary (ROLE), just after the write
  int acked = 0;     // replicas that acknowledged (WAIT's answer)
  std::string primary;  // host:port the write went to
};

struct ConfirmedReplies {
  std::vector<Reply> replies;
  WriteConfirmation confirmation;
};

/// A synchronous Redis client over one hiredis connection.
///
/// Thread-safe: calls are serialized on one connection behind a mutex, so a
/// slow command delays the others. The connection is made lazily and remade
/// lazily: a call that finds it dead (or closed by the server while idle)
/// reconnects first; a command whose connection fails while it is in flight
/// returns Unavailable and is not retried, since it may have run.
///
/// Sentinel mode (endpoint.sentinels not empty): every (re)connect asks the
/// Sentinels in order for endpoint.sentinelMaster, connects to the address
/// named, AUTH/SELECT as usual, then checks ROLE: a server that is not a
/// master is dropped and the next Sentinel (then, after a short pause, the
/// next round) is asked. In both modes an error reply saying the server is not
/// a writable primary (READONLY, LOADING, MASTERDOWN) drops the connection, so
/// the next command resolves the primary again.
///
/// Errors: a dependency problem (refused, timed out, connection lost, AUTH or
/// SELECT refused, no Sentinel answering, no primary found, a READONLY /
/// LOADING / MASTERDOWN reply) is ErrorKind::Unavailable, code
/// "redis_unavailable"; any other error reply to command() is
/// ErrorKind::Internal, code "redis_command_error", with the server's text.
/// Messages never contain the password.
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
  /// whole only when the connection does (some commands may have run), or
  /// when a reply says the server is not a writable primary (Unavailable).
  Result<std::vector<Reply>> pipeline(const std::vector<std::vector<std::string>>& commands);
  /// Like pipeline(), but an error reply to any command fails the call (kind
  /// Internal, code redis_command_error, the server's text).
  Result<std::vector<Reply>> pipelineAll(const std::vector<std::vector<std::string>>& commands);
  /// pipelineAll(), then, on the same connection and under the same lock,
  /// `WAIT <replicas> <timeout>` when the primary has a replica connected
  /// (ROLE, sent in the same batch). WAIT with no replica would block for the
  /// whole timeout, so it is skipped then. Too few acknowledgements is not an
  /// error: the writes are done on the primary; the outcome says what is
  /// known, is logged (warning) and counted in unconfirmedWrites().
  Result<ConfirmedReplies> pipelineConfirmed(const std::vector<std::vector<std::string>>& commands,
                                             int replicas = 1,
                                             std::chrono::milliseconds timeout = std::chrono::milliseconds(1000));
  /// True when the server answers PING.
  bool ping();

  /// host:port of the server the current connection talks to ("" when not
  /// connected): in Sentinel mode, the primary it was told about and checked.
  std::string primary() const;
  bool sentinelMode() const { return !options_.endpoint.sentinels.empty(); }

  /// Counting seam for tests: caller commands handed to the socket, including
  /// ones whose reply was lost; the AUTH, SELECT and ROLE of a reconnect, and
  /// the ROLE and WAIT of pipelineConfirmed(), are not counted.
  uint64_t commandsSent() const { return commandsSent_.load(); }
  /// Confirmed writes that no replica acknowledged in time; in Sentinel mode
  /// also those made while the primary had no replica at all (a failover
  /// would lose them). proxyos_redis_unconfirmed_writes_total.
  uint64_t unconfirmedWrites() const { return unconfirmedWrites_.load(); }
  /// Connections made to a primary other than the previous one (Sentinel mode).
  uint64_t primaryChanges() const { return primaryChanges_.load(); }

 private:
  struct ContextDeleter {
    void operator()(redisContext* c) const;
  };
  using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;
  struct Connected {
    ContextPtr context;
    std::string address;  // host:port
  };

  Status ensureConnectedLocked();
  Result<Connected> connect() const;
  Result<ContextPtr> connectTo(const std::string& host, uint16_t port) const;
  Result<Connected> connectViaSentinel() const;
  Error unavailable(const std::string& what) const;
  std::string describeFailure(const redisContext* c) const;
  Error connectionLost(const std::string& during);
  /// Appends `commands` to the output buffer (sent by the next redisGetReply).
  Status queueLocked(const std::vector<std::vector<std::string>>& commands, const char* what);
  Error notPrimary(const std::string& reply);
  void setPrimary(std::string address);

  ClientOptions options_;
  std::mutex mu_;
  ContextPtr context_;        // guarded by mu_; null = must reconnect before the next command
  std::string lastPrimary_;   // guarded by mu_: the primary of the previous connection
  mutable std::mutex primaryMu_;
  std::string primary_;       // guarded by primaryMu_ (read without waiting for a command)
  std::atomic<uint64_t> commandsSent_{0};
  std::atomic<uint64_t> unconfirmedWrites_{0};
  std::atomic<uint64_t> primaryChanges_{0};
};

}  // namespace proxyos::redis
