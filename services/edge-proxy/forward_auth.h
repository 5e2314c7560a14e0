#pragma once
// The forward-auth sub-request of an external SSO provider
// (ARCHITECTURE.md §2 step 4): a GET carrying the client's headers
// (sso_rules.h decides which) over the provider's keep-alive pool, the whole
// exchange bounded by the provider's timeoutMs.
//
// Runs on the client session's strand, like an UpstreamExchange, and uses
// the same per-endpoint pool (UpstreamRegistry::stateFor): a provider is an
// HTTP endpoint like any other. A provider failure never holds the endpoint
// out: the request fails closed either way, and the next one should try.
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/string_body.hpp>
#include <memory>
#include <optional>
#include <string>

#include "client_io.h"
#include "proxy_core.h"
#include "route_table.h"
#include "sso_rules.h"

namespace proxyos::edge {

/// One provider call. Lives in the client session (not in a coroutine frame:
/// the parser is large).
class ForwardAuthCall {
 public:
  using AnswerParser = boost::beast::http::response_parser<boost::beast::http::string_body, ArenaAllocator<char>>;

  /// How the call went on the wire.
  enum class Transport { Answered, Failed, TimedOut };

  ForwardAuthCall(ProxyCore& core, ClientIo& io) : core_(core), io_(io) {}
  ForwardAuthCall(const ForwardAuthCall&) = delete;
  ForwardAuthCall& operator=(const ForwardAuthCall&) = delete;

  /// Sends the sub-request for `facts` and reads the whole answer (its body
  /// up to kMaxAnswerBody). Retried once on a fresh connection when a pooled
  /// one turns out closed before answering (the request is a GET).
  boost::asio::awaitable<Transport> run(const SsoProviderEntry& provider, const Fields& clientFields,
                                        const SsoRequestFacts& facts);

  /// The answer when run() returned Answered; its fields live in the
  /// connection's header arena, valid until the next request starts.
  const AnswerParser::value_type& answer() const { return parser_->get(); }
  /// Why the call failed, for the log (never a header value).
  const std::string& failure() const { return failure_; }

  /// Bodies of provider answers are relayed to denied clients (login pages,
  /// JSON errors); one larger than this is an error, not a page.
  static constexpr std::uint64_t kMaxAnswerBody = 256 * 1024;

 private:
  enum class Attempt { Answered, Stale, Failed, TimedOut };
  boost::asio::awaitable<Attempt> attempt(UpstreamState& state, std::chrono::steady_clock::time_point deadline,
                                          bool allowStale);
  void release(UpstreamState& state, bool reusable);

  ProxyCore& core_;
  ClientIo& io_;
  std::unique_ptr<UpstreamConnection> conn_;
  std::optional<AnswerParser> parser_;
  std::string failure_;
};

}  // namespace proxyos::edge
