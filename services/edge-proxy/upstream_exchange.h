#pragma once
// One request proxied to an upstream (ARCHITECTURE.md §2 step 5): pick an
// endpoint, reuse or open a connection, forward the head and stream the
// body, relay the response (or a tunnel after 101), and decide whether each
// connection may carry another request.
//
// Everything runs on the client session's strand. The request body is pumped
// by a second coroutine on that strand while the main one waits for the
// response head, so `Expect: 100-continue` works whether or not the upstream
// sends 100, and an upstream that answers before reading the whole body
// (413, 401) is relayed at once.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "client_io.h"
#include "proxy_core.h"
#include "shared/model/route.h"
#include "upstream_selector.h"

namespace proxyos::edge {

/// Where and how to proxy a request.
struct ExchangeTarget {
  UpstreamSelector* selector = nullptr;
  const model::HeaderOps* requestHeaders = nullptr;   // may be null
  const model::HeaderOps* responseHeaders = nullptr;  // may be null
};

/// Proxies one request whose head `parser` has read. Never throws for I/O
/// failures: they become 502/504 pages or a closed connection.
class UpstreamExchange {
 public:
  UpstreamExchange(ProxyCore& core, ClientIo& io, RequestParser& parser, AccessRecord& record);
  UpstreamExchange(const UpstreamExchange&) = delete;
  UpstreamExchange& operator=(const UpstreamExchange&) = delete;

  /// True when the client connection may serve another request.
  boost::asio::awaitable<bool> run(const ExchangeTarget& target);

 private:
  enum class Sent { Ok, Retry, Fail };
  enum class Head { Ok, Timeout, Stale, Failed, ClientGone };

  void rewriteRequestHead(const ExchangeTarget& target);
  /// One attempt at getting the request head to an upstream.
  boost::asio::awaitable<Sent> sendHead(UpstreamState& state, bool canRetry);
  /// Reads the final response head (or 101), relaying 100 Continue.
  boost::asio::awaitable<Head> readResponseHead();
  boost::asio::awaitable<bool> relayResponse(const ExchangeTarget& target);
  boost::asio::awaitable<bool> tunnel(const ExchangeTarget& target);
  boost::asio::awaitable<void> pumpRequestBody();
  void startPump();
  boost::asio::awaitable<void> stopPump();
  boost::asio::awaitable<bool> fail(unsigned status);
  /// A transport failure: holds the endpoint out (back-off).
  void markFailed(UpstreamState& state);
  /// Returns the upstream connection to its pool, or closes it.
  void release(bool reusable);

  ProxyCore& core_;
  ClientIo& io_;
  RequestParser& parser_;
  AccessRecord& record_;

  // Facts about the client's request, taken before its head is rewritten.
  unsigned clientVersion_ = 11;
  bool clientKeepAlive_ = false;
  bool head_ = false;
  bool upgrade_ = false;
  bool hasBody_ = false;
  bool expectContinue_ = false;
  bool idempotent_ = false;

  UpstreamState* state_ = nullptr;
  std::unique_ptr<UpstreamConnection> conn_;
  bool reused_ = false;
  std::optional<ResponseParser> responseParser_;
  bool sawInterim_ = false;  // a 1xx came: the connection was not stale
  Clock::MonoTime started_{};
  Clock::MonoTime pickedAt_{};

  // Request body pump (second coroutine, same strand).
  bool pumping_ = false;
  bool pumpKeepGoing_ = true;
  bool pumpOk_ = true;                       // the whole body reached the upstream
  bool requestBodyWritten_ = false;          // its last byte went out
  boost::system::error_code pumpReadError_;  // the client side failed (nothing when ok)
  bool responseHeadSeen_ = false;
  std::optional<boost::asio::steady_timer> pumpSignal_;
};

}  // namespace proxyos::edge
