#include "upstream_exchange.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <chrono>

#include "body_relay.h"
#include "header_rules.h"
#include "http_io.h"
#include "local_response.h"
#include "request_id.h"
#include "string_view_compat.h"
#include "tunnel.h"

namespace proxyos::edge {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::redirect_error;
using asio::use_awaitable;
using boost::system::error_code;

namespace {

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

bool isHttpParseError(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_chunk).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

}  // namespace

UpstreamExchange::UpstreamExchange(ProxyCore& core, ClientIo& io, RequestParser& parser, AccessRecord& record)
    : core_(core), io_(io), parser_(parser), record_(record) {}

void UpstreamExchange::rewriteRequestHead(const ExchangeTarget& target) {
  auto& req = parser_.get();
  stripHopByHop(req, upgrade_);
  setForwardedHeaders(req, io_.clientIp, io_.stream.secure() ? "https" : "http", record_.host);
  appendVia(req, core_.options.via);
  req.set(toBeast(kRequestIdHeader), toBeast(record_.requestId));  // replaces the client's copies
  if (target.requestHeaders) applyHeaderOps(req, *target.requestHeaders);
  // The edge speaks HTTP/1.1 upstream whatever the client spoke; a chunked
  // body is re-chunked on the way (relayBody), a Content-Length one passes as is.
  req.version(11);
  if (parser_.chunked()) req.chunked(true);
}

asio::awaitable<bool> UpstreamExchange::run(const ExchangeTarget& target) {
  const auto& req = parser_.get();
  clientVersion_ = req.version();
  clientKeepAlive_ = req.keep_alive();
  head_ = req.method() == http::verb::head;
  hasBody_ = !parser_.is_done();
  // An Upgrade with a body would have to finish the body before switching
  // protocols; no real client does it, so such a request is proxied plainly.
  upgrade_ = parser_.upgrade() && !hasBody_;
  expectContinue_ = hasBody_ && clientVersion_ >= 11 && boost::beast::iequals(req[http::field::expect], "100-continue");
  idempotent_ = isIdempotent(req.method());
  rewriteRequestHead(target);

  started_ = core_.clock.monotonic();
  const UpstreamState* exclude = nullptr;
  for (int attempt = 0;; ++attempt) {
    // Retried at most once, only for idempotent methods, and only when the
    // request had not gone out (connect failed, or a pooled connection
    // turned out closed before any response byte and no body was consumed).
    const bool canRetry = idempotent_ && attempt == 0;
    // One clock read serves the first attempt's pick and pool lookup.
    pickedAt_ = attempt == 0 ? started_ : core_.clock.monotonic();
    state_ = target.selector->pick(pickedAt_, exclude);
    if (!state_) co_return co_await fail(502);
    const Sent sent = co_await sendHead(*state_, canRetry);
    if (sent == Sent::Fail) co_return co_await fail(502);
    if (sent == Sent::Retry) {
      exclude = reused_ ? nullptr : state_;
      continue;
    }
    if (hasBody_) startPump();
    const Head head = co_await readResponseHead();
    if (head == Head::Ok) break;
    if (pumping_) co_await stopPump();
    if (pumpReadError_) {
      // The client failed its upload; the upstream read was aborted for it.
      if (pumpReadError_ == http::error::body_limit) co_return co_await fail(413);
      if (isHttpParseError(pumpReadError_)) co_return co_await fail(400);
      release(false);
      co_return false;
    }
    if (head == Head::ClientGone) {
      release(false);
      co_return false;
    }
    if (head == Head::Stale && canRetry && !hasBody_) {
      release(false);
      exclude = nullptr;
      continue;
    }
    if (!(reused_ && head == Head::Stale)) markFailed(*state_);
    co_return co_await fail(head == Head::Timeout ? 504 : 502);
  }
  co_return co_await relayResponse(target);
}

asio::awaitable<UpstreamExchange::Sent> UpstreamExchange::sendHead(UpstreamState& state, bool canRetry) {
  const auto& opt = core_.options;
  // The peek for a peer close costs a syscall; an idempotent body-less
  // request skips it and is retried if the connection proves stale.
  conn_ = state.takeIdle(pickedAt_, opt.idleTimeout, !canRetry || hasBody_);
  reused_ = conn_ != nullptr;
  error_code ec;
  if (!conn_) {
    const auto& ep = state.endpoint();
    conn_ = std::make_unique<UpstreamConnection>(core_.ioc.get_executor(), ep.tls ? &core_.tlsClient : nullptr);
    ec = co_await conn_->connect(ep, opt.verifyUpstreamTls, io_.upstreamDog, opt.connectTimeout);
    if (ec) {
      markFailed(state);
      spdlog::debug("edge: connect to {} failed: {}", state.label(), ec.message());
      release(false);
      co_return canRetry ? Sent::Retry : Sent::Fail;
    }
  }
  auto& head = io_.toUpstreamScratch;
  head.clear();
  appendHead(parser_.get(), head);
  io_.upstreamDog.arm(opt.idleTimeout, {nullptr, conn_.get(), nullptr});
  Gather<1> out{{asio::buffer(head)}};
  if (!writeNowAll(*conn_, out, ec)) co_await writeRest(*conn_, out, ec);
  head.clear();
  io_.upstreamDog.disarm();
  if (ec) {
    if (!reused_) markFailed(state);
    release(false);
    co_return canRetry ? Sent::Retry : Sent::Fail;
  }
  co_return Sent::Ok;
}

asio::awaitable<UpstreamExchange::Head> UpstreamExchange::readResponseHead() {
  sawInterim_ = false;
  for (;;) {
    // The first head's fields go to the connection's header arena; any head
    // after an interim (1xx) one to the heap, so an upstream sending many
    // interim responses cannot grow the arena (each is freed when replaced).
    responseParser_.reset();
    responseParser_.emplace(std::piecewise_construct, std::make_tuple(),
                            std::make_tuple(sawInterim_ ? ArenaAllocator<char>()
                                                        : ArenaAllocator<char>(&io_.headerArena)));
    auto& rp = *responseParser_;
    rp.header_limit(static_cast<std::uint32_t>(core_.options.maxHeaderBytes));
    rp.body_limit(kUnlimitedBody);
    if (head_) rp.skip(true);
    error_code ec;
    // The request body pump touches this watchdog too: the header timeout
    // runs from the last request byte, not from the head.
    io_.upstreamDog.arm(core_.options.upstreamHeaderTimeout, {nullptr, conn_.get(), nullptr});
    co_await readParser(*conn_, conn_->buffer(), rp, true, ec);
    const bool timedOut = io_.upstreamDog.fired();
    io_.upstreamDog.disarm();
    if (ec) {
      spdlog::debug("edge: no response head from {}: {}", state_->label(), timedOut ? "timeout" : ec.message());
      if (timedOut) co_return Head::Timeout;
      const bool stale = !sawInterim_ && !rp.got_some() && conn_->buffer().size() == 0;
      co_return stale ? Head::Stale : Head::Failed;
    }
    const unsigned status = rp.get().result_int();
    if (status == 101) co_return upgrade_ ? Head::Ok : Head::Failed;
    if (status >= 200) {
      responseHeadSeen_ = true;
      co_return Head::Ok;
    }
    // Interim responses: 100 is relayed to a client that asked for it (it
    // is waiting to send its body); others (102, 103) are dropped.
    sawInterim_ = true;
    if (status == 100 && expectContinue_) {
      co_await asio::async_write(io_.stream, asio::buffer(kContinue.data(), kContinue.size()),
                                 redirect_error(use_awaitable, ec));
      if (ec) co_return Head::ClientGone;
    }
  }
}

asio::awaitable<bool> UpstreamExchange::relayResponse(const ExchangeTarget& target) {
  auto& rp = *responseParser_;
  auto& res = rp.get();
  const unsigned status = res.result_int();
  record_.status = static_cast<int>(status);
  record_.upstream = state_->label();
  record_.upstreamLatency = std::chrono::duration_cast<std::chrono::microseconds>(core_.clock.monotonic() - started_);
  state_->health().recordSuccess();
  if (status == 101) co_return co_await tunnel(target);

  const bool upstreamKeepAlive = res.keep_alive() && !rp.need_eof();
  const bool noBody = head_ || status == 204 || status == 304;
  bool keepClient = clientKeepAlive_ && !core_.stopping;
  stripHopByHop(res, false);
  appendVia(res, core_.options.via);
  res.set(toBeast(kRequestIdHeader), toBeast(record_.requestId));
  if (target.responseHeaders) applyHeaderOps(res, *target.responseHeaders);
  res.version(11);
  BodyFraming framing = BodyFraming::Raw;
  if (!noBody && !rp.content_length()) {
    // Chunked or until-EOF upstream body: HTTP/1.1 clients get it chunked
    // (the connection survives), HTTP/1.0 clients until we close.
    if (clientVersion_ >= 11) {
      res.chunked(true);
      framing = BodyFraming::Chunked;
    } else {
      keepClient = false;
    }
  }
  if (!keepClient)
    res.set(http::field::connection, "close");
  else if (clientVersion_ < 11)
    res.set(http::field::connection, "keep-alive");

  auto& head = io_.toClientScratch;
  head.clear();
  appendHead(res, head);
  error_code ec;
  io_.upstreamDog.arm(core_.options.idleTimeout, {&io_.socket, conn_.get(), nullptr});
  // The head goes out alone only when no body bytes are at hand (a
  // streaming upstream must not wait for its first chunk to be seen); else
  // head and first chunk share one write.
  if (!rp.is_done() && conn_->buffer().size() == 0) {
    Gather<1> out{{asio::buffer(head)}};
    if (!writeNowAll(io_.stream, out, ec)) co_await writeRest(io_.stream, out, ec);
    head.clear();
  }
  RelayResult r;
  if (!ec)
    r = co_await relayBody<false>(*conn_, conn_->buffer(), rp, io_.stream, framing, head, io_.responseChunk(),
                                  kBodyChunkBytes, &io_.upstreamDog, nullptr);
  io_.upstreamDog.disarm();
  record_.bytesSent = r.bytes;
  if (pumping_) co_await stopPump();
  const bool requestDone = !hasBody_ || (pumpOk_ && parser_.is_done());
  const bool complete = !ec && r.ok();
  const bool reusable = complete && requestDone && upstreamKeepAlive && conn_->buffer().size() == 0;
  release(reusable && !core_.stopping);
  const bool keep = complete && requestDone && keepClient;
  co_return keep;
}

asio::awaitable<bool> UpstreamExchange::tunnel(const ExchangeTarget& target) {
  auto& res = responseParser_->get();
  stripHopByHop(res, true);
  appendVia(res, core_.options.via);
  res.set(toBeast(kRequestIdHeader), toBeast(record_.requestId));
  if (target.responseHeaders) applyHeaderOps(res, *target.responseHeaders);
  auto& head = io_.toClientScratch;
  head.clear();
  appendHead(res, head);
  error_code ec;
  io_.upstreamDog.arm(core_.options.idleTimeout, {&io_.socket, conn_.get(), nullptr});
  Gather<1> out{{asio::buffer(head)}};
  if (!writeNowAll(io_.stream, out, ec)) co_await writeRest(io_.stream, out, ec);
  io_.upstreamDog.disarm();
  if (!ec) {
    const TunnelResult t = co_await runTunnel(io_, *conn_, core_.options.idleTimeout);
    record_.bytesSent = t.toClient;
  }
  release(false);
  co_return false;
}

void UpstreamExchange::startPump() {
  pumping_ = true;
  pumpKeepGoing_ = true;
  requestBodyWritten_ = false;
  pumpSignal_.emplace(io_.strand, asio::steady_timer::time_point::max());
  asio::co_spawn(io_.strand, pumpRequestBody(), [this](std::exception_ptr e) {
    if (e) {
      // Only allocation failure can get here (I/O reports error codes).
      pumpOk_ = false;
      if (conn_) conn_->close();
    }
    pumping_ = false;
    pumpSignal_->cancel();
  });
}

asio::awaitable<void> UpstreamExchange::pumpRequestBody() {
  io_.clientDog.arm(core_.options.idleTimeout, {&io_.socket, conn_.get(), nullptr});
  const BodyFraming framing = parser_.chunked() ? BodyFraming::Chunked : BodyFraming::Raw;
  RelayResult r = co_await relayBody<true>(io_.stream, io_.buffer, parser_, *conn_, framing, io_.toUpstreamScratch,
                                           io_.requestChunk(), kBodyChunkBytes, &io_.clientDog, &io_.upstreamDog,
                                           &pumpKeepGoing_, &requestBodyWritten_);
  const bool timedOut = io_.clientDog.fired();
  io_.clientDog.disarm();
  if (r.ok()) co_return;
  spdlog::debug("edge: request body relay stopped ({} side): {}",
                r.failed == RelayResult::Side::Read ? "client" : "upstream", r.ec.message());
  pumpOk_ = false;
  if (r.failed == RelayResult::Side::Read && pumpKeepGoing_) {
    pumpReadError_ = timedOut ? error_code(asio::error::timed_out) : r.ec;
    // The upstream holds a partial body and would wait for the rest until
    // its own timeout: abort the response read instead.
    if (!responseHeadSeen_ && conn_) conn_->close();
  }
}

asio::awaitable<void> UpstreamExchange::stopPump() {
  if (!pumping_) co_return;
  // A pump that has read and sent everything is only waiting to be
  // resumed: let it finish. Otherwise stop it between steps and abort the
  // read it may be blocked in (the connection pair is not reusable then).
  if (!(parser_.is_done() && requestBodyWritten_)) {
    pumpKeepGoing_ = false;
    error_code ec;
    io_.socket.cancel(ec);
    if (conn_) conn_->close();
  }
  while (pumping_) {
    error_code ec;
    co_await pumpSignal_->async_wait(redirect_error(use_awaitable, ec));
  }
}

asio::awaitable<bool> UpstreamExchange::fail(unsigned status) {
  if (pumping_) co_await stopPump();
  release(false);
  record_.status = static_cast<int>(status);
  // The client's body must have been read entirely for the connection to
  // carry another request.
  const bool keep = clientKeepAlive_ && (!hasBody_ || parser_.is_done()) && !core_.stopping;
  const error_code ec =
      co_await writeLocalResponse(io_, errorResponse(status, clientVersion_, head_, keep, record_.requestId),
                                  core_.options.idleTimeout);
  co_return keep && !ec;
}

void UpstreamExchange::markFailed(UpstreamState& state) {
  state.health().recordFailure(core_.clock.monotonic(), core_.options.backoffBase, core_.options.backoffMax);
}

void UpstreamExchange::release(bool reusable) {
  if (!conn_) return;
  if (reusable && state_) {
    state_->putIdle(std::move(conn_), core_.clock.monotonic());
    return;
  }
  conn_->close();
  conn_.reset();
}

}  // namespace proxyos::edge
