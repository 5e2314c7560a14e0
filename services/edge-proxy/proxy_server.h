#pragma once
// The edge's data plane (ARCHITECTURE.md §2 steps 1, 2, 5, 6): an HTTP/1.1
// reverse proxy over Boost.Beast. A library piece: the edge app wires the
// config source, TLS listener, system route and admin listener around it.
//
// Threading: the caller runs the io_context on as many threads as it likes,
// but exactly one when it built it with concurrency hint 1 (or an "unsafe"
// hint): connections then run without strands (ProxyCore::oneThread).
// Otherwise each client connection is a coroutine on its own strand. Shared
// state is the route table (TableHolder, one mutex per request), the
// upstream registry (one mutex per route lookup, cached per connection) and
// each upstream's health (atomics) and idle pool (a small mutex per
// endpoint).
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "edge_tls.h"
#include "proxy_options.h"
#include "shared/core/clock.h"
#include "shared/core/error.h"
#include "system_route.h"
#include "table_holder.h"

namespace proxyos::edge {

struct ProxyCore;
class SsoContext;

/// Accepts HTTP/1.1 (and 1.0) clients and proxies their requests by the
/// current route table. All references must outlive the io_context's work
/// (not only this object: connections still draining after stop() keep the
/// shared state alive on their own).
class ProxyServer {
 public:
  ProxyServer(boost::asio::io_context& ioc, TableHolder& tables, ProxyOptions options, ProxyObserver& observer,
              SystemRouteHandler& system, const Clock& clock);
  /// Calls stop().
  ~ProxyServer();
  ProxyServer(const ProxyServer&) = delete;
  ProxyServer& operator=(const ProxyServer&) = delete;

  /// Binds host:port (port 0 picks a free one; host "" or "0.0.0.0" = all
  /// IPv4, "::" = all) and starts accepting. May be called more than once.
  /// Returns the bound port.
  Result<std::uint16_t> listen(const std::string& host, std::uint16_t port);

  /// Before listenTls(): certificates by SNI, ACME challenge answers and
  /// the forceHttps rule (edge_tls.h). Must outlive the io_context's work.
  Status setTls(TlsServing tls);
  /// Like listen(), for HTTPS (after setTls()). Its port is where forceHttps
  /// redirects point.
  Result<std::uint16_t> listenTls(const std::string& host, std::uint16_t port);

  /// Any thread, idempotent: stops accepting, closes idle client and pooled
  /// upstream connections; requests in flight finish, then their
  /// connections close.
  void stop();

  /// Before listen(): the SSO step's shared state (built-in sessions, allow
  /// cache). Must outlive the io_context's work.
  void setSso(SsoContext* sso);

  /// Any thread: a built-in session ended (proxyos.session.revoked). Its
  /// cached verdicts and those of sessions linked to it are dropped, and
  /// every connection whose last request it let through is closed (open
  /// WebSockets and streams included).
  void revokeSession(const std::string& sessionId);

  /// Open client connections (for /status and tests).
  std::size_t connectionCount() const;
  /// Idle pooled upstream connections (for /status and tests).
  std::size_t idleUpstreamConnections() const;

 private:
  static boost::asio::awaitable<void> acceptLoop(std::shared_ptr<ProxyCore> core,
                                                 std::shared_ptr<boost::asio::ip::tcp::acceptor> acceptor, bool secure);
  Result<std::uint16_t> open(const std::string& host, std::uint16_t port, bool secure);
  static boost::asio::awaitable<void> sweepLoop(std::shared_ptr<ProxyCore> core,
                                                std::shared_ptr<boost::asio::steady_timer> timer);

  std::shared_ptr<ProxyCore> core_;
  boost::asio::any_io_executor strand_;  // acceptors and the sweep timer live here
  std::mutex mu_;
  std::vector<std::shared_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
  std::shared_ptr<boost::asio::steady_timer> sweepTimer_;
  bool stopped_ = false;
};

}  // namespace proxyos::edge
