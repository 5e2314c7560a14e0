#pragma once
// The skeleton every control-plane service runs on (cpprestsdk listener).
//
// Threading: cpprestsdk accepts and parses on its own pool, which its HTTP
// client shares. Handlers may block (NATS and Redis calls are synchronous, and
// a handler may call another service), so each request is handed to this
// service's own worker pool; nothing blocks a cpprestsdk thread.
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <memory>
#include <string>

#include "shared/core/clock.h"
#include "shared/core/url.h"
#include "shared/http/message.h"
#include "shared/http/metrics.h"
#include "shared/http/router.h"

namespace web::http::experimental::listener {
class http_listener;
}

namespace proxyos::http {

struct ServiceOptions {
  std::string name;                  // "route-registry": logs and metrics
  HostPort listen;
  size_t maxBodyBytes = 1024 * 1024;  // larger bodies get 413
  int workerThreads = 8;
};

class RestService {
 public:
  RestService(ServiceOptions options, Router router, std::function<bool()> ready, std::shared_ptr<Metrics> metrics,
              const Clock& clock);
  ~RestService();

  /// Opens the listener. Throws std::runtime_error naming the address if it cannot bind.
  void start();
  /// Stops accepting and waits for handlers in flight.
  void stop();

  /// The whole pipeline for one parsed request (built-ins, dispatch, errors)
  /// without a network; used by start() and by unit tests.
  Response handle(Request req, std::string* routePattern = nullptr) const;

 private:
  ServiceOptions options_;
  Router router_;
  std::function<bool()> ready_;
  std::shared_ptr<Metrics> metrics_;
  const Clock& clock_;
  std::unique_ptr<boost::asio::thread_pool> pool_;
  std::unique_ptr<web::http::experimental::listener::http_listener> listener_;
};

/// Starts `rest`, serves until SIGTERM/SIGINT/SIGHUP (blocked beforehand with
/// blockTerminationSignals()), then stops it gracefully. Returns the exit code:
/// 0, or 1 when it cannot listen (the reason is logged).
int serveUntilSignal(RestService& rest);

}  // namespace proxyos::http
