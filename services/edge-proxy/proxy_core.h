#pragma once
// What every connection of one ProxyServer shares.
//
// Lifetime: sessions hold the core by shared_ptr, so it outlives the
// ProxyServer object while in-flight requests drain (or while the io_context
// destroys their frames). The references inside (io_context, tables,
// observer, system route, clock) belong to the caller and must outlive the
// io_context's work.
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "edge_tls.h"
#include "proxy_options.h"
#include "shared/core/clock.h"
#include "system_route.h"
#include "table_holder.h"
#include "upstream_selector.h"

namespace proxyos::edge {

class ClientSession;
class SsoContext;

/// Shared state of one ProxyServer. Everything in it is either immutable
/// after construction or thread-safe on its own.
struct ProxyCore {
  ProxyCore(boost::asio::io_context& ioc, TableHolder& tables, ProxyOptions options, ProxyObserver& observer,
            SystemRouteHandler& system, const Clock& clock);

  boost::asio::io_context& ioc;
  TableHolder& tables;
  const ProxyOptions options;
  ProxyObserver& observer;
  SystemRouteHandler& system;
  const Clock& clock;
  UpstreamRegistry upstreams;
  /// Client context for https upstreams; SSL_CTX is safe to share across
  /// threads once configured (here, in the constructor).
  boost::asio::ssl::context tlsClient;
  /// Set by ProxyServer::stop(): sessions finish their request and close.
  std::atomic<bool> stopping{false};
  /// The io_context was built for one thread (concurrency hint 1): every
  /// handler already runs on that thread, one at a time, so sessions need no
  /// strand. A strand costs a second trip through the scheduler and a heap
  /// allocation for most completions.
  const bool oneThread;
  /// The SSO step's shared state; nullptr = no session store on this node
  /// (routes with the built-in provider then answer 503). Set before
  /// listening, never changed after.
  SsoContext* sso = nullptr;
  /// HTTPS: the certificate side and the server context (null until
  /// ProxyServer::setTls). Set before listening, never changed after.
  TlsServing tls;
  std::unique_ptr<boost::asio::ssl::context> tlsServer;
  /// The HTTPS listener's port, for forceHttps redirects (0: none).
  std::atomic<std::uint16_t> httpsPort{0};

  /// Where a new session's handlers run: a strand of its own, or the
  /// io_context itself when it is single-threaded.
  boost::asio::any_io_executor sessionExecutor();

  void addSession(const std::shared_ptr<ClientSession>& session);
  void removeSession(const ClientSession* session);
  std::vector<std::shared_ptr<ClientSession>> liveSessions() const;
  std::size_t sessionCount() const;

 private:
  // Touched once per connection (not per request).
  mutable std::mutex sessionsMu_;
  std::unordered_map<const ClientSession*, std::weak_ptr<ClientSession>> sessions_;
};

}  // namespace proxyos::edge
