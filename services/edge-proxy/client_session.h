#pragma once
// One client connection: reads requests one after another (keep-alive,
// pipelined ones in order), enforces request hygiene, finds the route and
// hands the request to the system route, an error page or an
// UpstreamExchange.
//
// Threading: each session runs as one coroutine on its own strand (or, on a
// single-threaded io_context, on the io_context itself: ProxyCore::oneThread);
// the io_context's threads take sessions as they become runnable. Nothing in
// a session is touched from another strand except requestStop(), which posts.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <optional>

#include "client_io.h"
#include "proxy_core.h"
#include "upstream_exchange.h"

namespace proxyos::edge {

/// Serves one accepted client connection until it closes.
class ClientSession : public std::enable_shared_from_this<ClientSession> {
 public:
  /// Starts serving `socket` on a new strand of the core's io_context.
  static void start(std::shared_ptr<ProxyCore> core, boost::asio::ip::tcp::socket socket);
  ~ClientSession();
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  /// Any thread: an idle keep-alive connection closes now; a busy one after
  /// its current response.
  void requestStop();

 private:
  ClientSession(std::shared_ptr<ProxyCore> core, boost::asio::ip::tcp::socket socket,
                const boost::asio::any_io_executor& strand);

  static boost::asio::awaitable<void> run(std::shared_ptr<ClientSession> self);
  /// Reads and answers one request; false when the connection must close.
  boost::asio::awaitable<bool> serveOne(bool first);
  boost::asio::awaitable<bool> dispatch(RequestParser& parser, AccessRecord& record);
  boost::asio::awaitable<bool> proxy(RequestParser& parser, AccessRecord& record, const ExchangeTarget& target);
  boost::asio::awaitable<bool> respondError(unsigned status, const RequestParser* parser, AccessRecord& record);
  boost::asio::awaitable<void> closeGracefully();
  UpstreamSelector* routeSelector(const std::shared_ptr<const RouteTable>& table, const MatchedRoute& match);

  std::shared_ptr<ProxyCore> core_;
  ClientIo io_;
  bool idle_ = false;  // waiting for the next request's first byte
  bool stopRequested_ = false;
  bool peerClosed_ = false;  // the client ended the connection (no lingering close needed)
  std::optional<UpstreamExchange> exchange_;  // the request being proxied

  // The last route's selector, valid while the same table serves: keep-alive
  // clients of one route skip the registry lookup.
  std::shared_ptr<const RouteTable> cachedTable_;
  const MatchedRoute* cachedMatch_ = nullptr;
  std::shared_ptr<UpstreamSelector> cachedSelector_;
};

}  // namespace proxyos::edge
