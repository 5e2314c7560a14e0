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
#include "forward_auth.h"
#include "proxy_core.h"
#include "sso_rules.h"
#include "upstream_exchange.h"

namespace proxyos::edge {

struct SessionVerdict;

/// Serves one accepted client connection until it closes.
class ClientSession : public std::enable_shared_from_this<ClientSession> {
 public:
  /// Starts serving `socket` on a new strand of the core's io_context.
  static void start(std::shared_ptr<ProxyCore> core, boost::asio::ip::tcp::socket socket, bool secure = false);
  ~ClientSession();
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  /// Any thread: an idle keep-alive connection closes now; a busy one after
  /// its current response.
  void requestStop();
  /// Any thread: closes the connection if its last request was let through
  /// by built-in session `id` or by a session linked to it (logout ends open
  /// WebSockets and streams too).
  void closeIfSession(std::string id);

 private:
  ClientSession(std::shared_ptr<ProxyCore> core, boost::asio::ip::tcp::socket socket,
                const boost::asio::any_io_executor& strand);

  static boost::asio::awaitable<void> run(std::shared_ptr<ClientSession> self);
  /// Reads and answers one request; false when the connection must close.
  boost::asio::awaitable<bool> serveOne(bool first);
  boost::asio::awaitable<bool> dispatch(RequestParser& parser, AccessRecord& record);
  boost::asio::awaitable<bool> proxy(RequestParser& parser, AccessRecord& record, const ExchangeTarget& target);
  /// Plain HTTP only (ARCHITECTURE.md §2 step 3): whether the edge answers
  /// the request itself — an ACME HTTP-01 challenge (`token` set) or a
  /// forceHttps redirect. Decided without a coroutine frame, since nearly
  /// every request gets None.
  struct PlainHttpStep {
    enum Kind { None, Challenge, Redirect } kind = None;
    std::string_view token;
  };
  PlainHttpStep plainHttpStep(const MatchedRoute& match, std::string_view path, std::string_view host) const;
  boost::asio::awaitable<bool> answerPlainHttp(RequestParser& parser, AccessRecord& record, const MatchedRoute& match,
                                               PlainHttpStep step);
  boost::asio::awaitable<bool> respondError(unsigned status, const RequestParser* parser, AccessRecord& record);
  boost::asio::awaitable<void> closeGracefully();

  // The SSO step (client_sso.cpp). Each returns nullopt when the request
  // may go on to the upstream (its identity headers set), otherwise whether
  // the connection may serve another request after the answer it wrote.
  using SsoResult = std::optional<bool>;
  boost::asio::awaitable<SsoResult> enforceSso(RequestParser& parser, AccessRecord& record, const MatchedRoute& match);
  boost::asio::awaitable<SsoResult> enforceExternal(RequestParser& parser, AccessRecord& record,
                                                    const MatchedRoute& match, const SsoRequestFacts& facts);
  boost::asio::awaitable<SsoResult> enforceBuiltin(RequestParser& parser, AccessRecord& record,
                                                   const MatchedRoute& match, const SsoRequestFacts& facts);
  /// The verdict on a session cookie the edge's cache has no fresh verdict
  /// for: Redis is asked on a worker thread (the last valid verdict stands
  /// in while Redis cannot be asked). Callers try `sso->verdicts.find()`
  /// first, so a cache hit costs no coroutine. `core_->sso` must be set.
  boost::asio::awaitable<std::shared_ptr<const SessionVerdict>> askSessionStore(std::string_view cookie);
  /// A system answer for dashboard users only: nullopt when the session is an
  /// admin's or a viewer's, otherwise the JSON error it wrote.
  boost::asio::awaitable<SsoResult> requireDashboardUser(RequestParser& parser, AccessRecord& record);
  boost::asio::awaitable<bool> redeemCallback(RequestParser& parser, AccessRecord& record, std::string_view host,
                                              const SsoRequestFacts& facts);
  /// Groups check, identity headers, access-log user: the end of every allow.
  boost::asio::awaitable<SsoResult> admit(RequestParser& parser, AccessRecord& record, const MatchedRoute& match,
                                          const std::vector<std::string>& identityNames,
                                          const std::vector<std::pair<std::string, std::string>>& identity,
                                          std::string_view groups, std::string_view separator);
  /// Writes a small answer of the edge's own. `body` by value: it must live
  /// in this coroutine's frame while the write is suspended.
  boost::asio::awaitable<bool> respond(const RequestParser& parser, AccessRecord& record, unsigned status,
                                       std::string_view contentType, std::string body,
                                       const std::vector<std::pair<std::string, std::string>>* headers);
  /// The table to serve this request with (nullptr: none yet), kept in cachedTable_.
  const RouteTable* currentTable();
  UpstreamSelector* routeSelector(const MatchedRoute& match);

  std::shared_ptr<ProxyCore> core_;
  ClientIo io_;
  bool idle_ = false;  // waiting for the next request's first byte
  bool stopRequested_ = false;
  bool peerClosed_ = false;  // the client ended the connection (no lingering close needed)
  std::optional<UpstreamExchange> exchange_;  // the request being proxied
  // The provider call of the current request; its answer lives in the header
  // arena, so it is dropped before the arena is reset.
  std::optional<ForwardAuthCall> forwardAuth_;
  // The built-in session (and its parent) the last request was let through
  // by: closeIfSession() compares against them.
  std::string ssoSessionId_;
  std::string ssoParentId_;

  // The table the last request was served with, and TableHolder's
  // generation when it was taken: the next request looks the table up
  // again only when one was published since. It also keeps the table alive
  // for the request being served (requests finish on the table they
  // started with). With it, the last route's selector: keep-alive clients
  // of one route skip the registry lookup.
  std::shared_ptr<const RouteTable> cachedTable_;
  std::uint64_t tableGeneration_ = 0;
  const MatchedRoute* cachedMatch_ = nullptr;
  std::shared_ptr<UpstreamSelector> cachedSelector_;
};

}  // namespace proxyos::edge
