#pragma once
#include <nats/nats.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "shared/core/error.h"

namespace proxyos::store {

struct NatsOptions {
  std::vector<std::string> servers;  // already split (natsOptions_SetURL does not split lists)
  std::string name;                  // client name shown by the server
  std::chrono::milliseconds timeout{2000};  // connect and JetStream request timeout
};

/// A subscription; unsubscribes when destroyed. The callback runs on a NATS
/// library thread, so it must be quick and thread-safe.
class Subscription {
 public:
  using Handler = std::function<void(const std::string& subject, const std::string& data)>;
  Subscription(natsSubscription* sub, std::unique_ptr<Handler> handler);
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

 private:
  natsSubscription* sub_;
  std::unique_ptr<Handler> handler_;
};

/// One NATS connection with its JetStream context. Reconnects forever; while
/// disconnected, operations fail fast with ErrorKind::Unavailable and succeed
/// again once the library has reconnected. Thread-safe (NATS.c is).
class NatsConnection {
 public:
  /// Connects. If no server answers yet, keeps trying in the background and
  /// returns a connection that reports connected() == false until then.
  static Result<std::shared_ptr<NatsConnection>> connect(const NatsOptions& options);
  ~NatsConnection();
  NatsConnection(const NatsConnection&) = delete;
  NatsConnection& operator=(const NatsConnection&) = delete;

  bool connected() const;
  Status publish(const std::string& subject, const std::string& data);
  Result<std::unique_ptr<Subscription>> subscribe(const std::string& subject, Subscription::Handler handler);

  natsConnection* raw() const { return conn_; }
  jsCtx* jetStream() const { return js_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  NatsConnection(natsConnection* conn, jsCtx* js, std::chrono::milliseconds timeout)
      : conn_(conn), js_(js), timeout_(timeout) {}
  natsConnection* conn_;
  jsCtx* js_;
  std::chrono::milliseconds timeout_;
};

/// Maps a failed natsStatus to an Error (Unavailable for connection trouble).
Error natsError(natsStatus s, const std::string& what);

}  // namespace proxyos::store
