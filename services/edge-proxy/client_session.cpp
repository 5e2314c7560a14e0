// GCC 12 at -O2 misreports Asio's coroutine frame allocator (a recycling
// operator new/delete pair) as mismatched once the frame is inlined; the pair
// is matched (boost/asio/impl/awaitable.hpp, awaitable_frame_base).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include "client_session.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <exception>
#include <tuple>
#include <utility>

#include "error_pages.h"
#include "sso_context.h"
#include "http_io.h"
#include "local_response.h"
#include "request_id.h"
#include "string_view_compat.h"
#include "upstream_exchange.h"

namespace proxyos::edge {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::redirect_error;
using asio::use_awaitable;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

bool isHttpParseError(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_chunk).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

// "http://host/path?q" (absolute-form, RFC 9112 §3.2.2): the authority
// replaces Host and the upstream gets the origin-form.
void normalizeAbsoluteForm(http::request<http::buffer_body, Fields>& req) {
  const auto target = req.target();
  std::size_t skip = 0;
  if (target.starts_with("http://"))
    skip = 7;
  else if (target.starts_with("https://"))
    skip = 8;
  else
    return;
  const auto rest = target.substr(skip);
  const auto end = rest.find_first_of("/?");
  const std::string authority(rest.substr(0, end));
  std::string origin = end == std::string_view::npos ? "/" : std::string(rest.substr(end));
  if (origin.front() == '?') origin.insert(origin.begin(), '/');
  req.set(http::field::host, authority);
  req.target(origin);
}

std::chrono::microseconds since(const Clock& clock, Clock::MonoTime start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(clock.monotonic() - start);
}

}  // namespace

void ClientSession::start(std::shared_ptr<ProxyCore> core, tcp::socket socket, bool secure) {
  error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  // Writes try a plain send first (http_io.h writeNowAll).
  socket.non_blocking(true, ec);
  auto strand = core->sessionExecutor();
  std::shared_ptr<ClientSession> session(new ClientSession(core, std::move(socket), strand));
  if (secure && core->tlsServer) session->io_.stream.useTls(*core->tlsServer);
  core->addSession(session);
  asio::co_spawn(strand, run(std::move(session)), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("edge: connection ended by an unexpected error: {}", ex.what());
    }
  });
}

ClientSession::ClientSession(std::shared_ptr<ProxyCore> core, tcp::socket socket, const asio::any_io_executor& strand)
    : core_(std::move(core)), io_(std::move(socket), strand) {}

ClientSession::~ClientSession() { core_->removeSession(this); }

void ClientSession::closeIfSession(std::string id) {
  asio::post(io_.strand, [self = shared_from_this(), id = std::move(id)] {
    if (self->ssoSessionId_.empty() || (self->ssoSessionId_ != id && self->ssoParentId_ != id)) return;
    self->stopRequested_ = true;
    error_code ec;
    self->io_.socket.close(ec);
  });
}

void ClientSession::requestStop() {
  asio::post(io_.strand, [self = shared_from_this()] {
    self->stopRequested_ = true;
    if (self->idle_) {
      error_code ec;
      self->io_.socket.close(ec);
    }
  });
}

asio::awaitable<void> ClientSession::run(std::shared_ptr<ClientSession> self) {
  // The only try/catch of the request path: I/O reports through error
  // codes; this catches what cannot be (allocation failure) so one
  // connection's trouble never takes the process down.
  try {
    if (auto* tls = self->io_.stream.tls()) {
      // The handshake shares the header timeout: a client that opens a
      // connection and says nothing is cut off either way.
      error_code ec;
      self->io_.clientDog.arm(self->core_->options.clientHeaderTimeout, {&self->io_.socket, nullptr, nullptr});
      co_await tls->async_handshake(asio::ssl::stream_base::server, redirect_error(use_awaitable, ec));
      self->io_.clientDog.disarm();
      if (ec) {
        spdlog::debug("edge: TLS handshake with {} failed: {}", self->io_.clientIp, ec.message());
        self->io_.socket.close(ec);
        co_return;
      }
    }
    for (bool first = true;; first = false)
      if (!co_await self->serveOne(first)) break;
    co_await self->closeGracefully();
  } catch (const std::exception& e) {
    spdlog::error("edge: connection from {} failed: {}", self->io_.clientIp, e.what());
    error_code ec;
    self->io_.socket.close(ec);
  }
}

asio::awaitable<bool> ClientSession::serveOne(bool first) {
  const auto& opt = core_->options;
  error_code ec;
  if (!first && io_.buffer.size() == 0) {
    // Between requests the idle timeout applies; the header timeout starts
    // with the next request's first byte.
    if (stopRequested_ || core_->stopping) co_return false;
    idle_ = true;
    io_.clientDog.arm(opt.idleTimeout, {&io_.socket, nullptr, nullptr});
    // A read, not async_wait(wait_read): Asio re-arms epoll (one epoll_ctl)
    // for every wait. The previous request's read drained the socket, so
    // this one waits for epoll without trying recv first (draining_read.h).
    // The bytes land where the header parser looks first.
    const std::size_t n = co_await io_.stream.async_read_some(
        io_.buffer.prepare(boost::beast::read_size(io_.buffer, 65536)), redirect_error(use_awaitable, ec));
    io_.buffer.commit(n);
    idle_ = false;
    if (ec || stopRequested_) {
      peerClosed_ = isEndOfStream(ec);
      io_.clientDog.disarm();
      co_return false;
    }
  }
  io_.clientDog.arm(opt.clientHeaderTimeout, {&io_.socket, nullptr, nullptr});
  // The previous request's fields (and its response's) are gone: their
  // parsers lived in the previous call.
  forwardAuth_.reset();
  io_.headerArena.reset();
  RequestParser parser(std::piecewise_construct, std::make_tuple(),
                       std::make_tuple(ArenaAllocator<char>(&io_.headerArena)));
  parser.header_limit(static_cast<std::uint32_t>(opt.maxHeaderBytes));
  parser.body_limit(opt.maxBodyBytes > 0 ? opt.maxBodyBytes : kUnlimitedBody);
  if (!parseBuffered(io_.buffer, parser, true, ec)) co_await readParser(io_.stream, io_.buffer, parser, true, ec);
  const bool timedOut = io_.clientDog.fired();
  io_.clientDog.disarm();

  const auto start = core_->clock.monotonic();
  AccessRecord record;
  // Chosen before anything can fail, so error pages carry it too.
  record.requestId = parser.is_header_done() ? requestIdFor(parser.get()) : newRequestId();
  bool keep = false;
  if (ec) {
    // A slow or silent client is cut off without an answer, as is one that
    // closed or reset; a malformed or oversized head gets its status page.
    if (timedOut || !parser.got_some()) {
      peerClosed_ = !timedOut;
      co_return false;
    }
    if (ec == http::error::header_limit)
      co_await respondError(431, nullptr, record);
    else if (ec == http::error::body_limit)
      co_await respondError(413, &parser, record);
    else if (isHttpParseError(ec))
      co_await respondError(400, nullptr, record);
    else
      peerClosed_ = true;
  } else {
    keep = co_await dispatch(parser, record);
  }
  record.totalLatency = since(core_->clock, start);
  if (record.status != 0 || !record.method.empty()) core_->observer.onRequest(std::move(record));
  co_return keep && !stopRequested_ && !core_->stopping;
}

asio::awaitable<bool> ClientSession::dispatch(RequestParser& parser, AccessRecord& record) {
  auto& req = parser.get();
  normalizeAbsoluteForm(req);
  record.method = std::string(req.method_string());
  // One scan instead of a tree lookup per question (Host, its count,
  // Transfer-Encoding).
  std::size_t hosts = 0;
  bool transferEncoding = false;
  for (const auto& f : req) {
    if (f.name() == http::field::host) {
      if (hosts++ == 0) record.host = std::string(f.value());
    } else if (f.name() == http::field::transfer_encoding) {
      transferEncoding = true;
    }
  }
  const std::string_view target = toStd(req.target());
  const std::string_view path = target.substr(0, target.find('?'));
  record.path = std::string(path);

  // Request smuggling guards: a Transfer-Encoding that is not (finally)
  // chunked cannot be framed (RFC 9112 §6.3), and Host must be one value.
  // Content-Length together with Transfer-Encoding, or an invalid
  // Content-Length, never gets here: the parser rejects them (400 above).
  if ((transferEncoding && !parser.chunked()) || hosts > 1 || (req.version() >= 11 && hosts == 0))
    co_return co_await respondError(400, &parser, record);

  // It owns `match`; cachedTable_ keeps it for the whole request.
  const RouteTable* table = currentTable();
  if (!table) co_return co_await respondError(503, &parser, record);
  const MatchedRoute* match = table->match(record.host, path);
  if (!match) co_return co_await respondError(404, &parser, record);

  if (!io_.stream.secure() && core_->tls.authority)
    if (const PlainHttpStep step = plainHttpStep(*match, path, record.host); step.kind != PlainHttpStep::None)
      co_return co_await answerPlainHttp(parser, record, *match, step);
  if (match->kind == MatchKind::System) {
    const SystemRequest request{toStd(req.method_string()), target, path, record.host, io_.clientIp, req};
    SystemAnswer answer = core_->system.handle(request);
    if (answer.dashboardUsersOnly)
      if (const SsoResult refused = co_await requireDashboardUser(parser, record)) co_return *refused;
    if (answer.kind == SystemAnswer::Kind::Proxy) {
      const auto& ep = answer.upstream;
      auto selector =
          core_->upstreams.selectorFor("system:" + ep.scheme + "://" + ep.host + ":" + std::to_string(ep.port), {ep});
      co_return co_await proxy(parser, record, {selector.get(), &answer.requestHeaders, &answer.responseHeaders});
    }
    const bool keep = parser.is_done() && req.keep_alive() && !core_->stopping;
    LocalResponse res;
    res.status = static_cast<unsigned>(answer.status);
    res.contentType = answer.contentType;
    if (answer.body) res.body = *answer.body;
    res.headers = &answer.headers;
    res.version = req.version();
    res.head = req.method() == http::verb::head;
    res.keepAlive = keep;
    res.requestId = record.requestId;
    record.status = answer.status;
    record.bytesSent = res.head ? 0 : res.body.size();
    const error_code ec = co_await writeLocalResponse(io_, res, core_->options.idleTimeout);
    co_return keep && !ec;
  }

  record.routeId = match->route.id;
  if (match->route.ssoEnabled)
    if (const SsoResult answered = co_await enforceSso(parser, record, *match)) co_return *answered;
  co_return co_await proxy(parser, record,
                           {routeSelector(*match), &match->route.requestHeaders, &match->route.responseHeaders});
}

ClientSession::PlainHttpStep ClientSession::plainHttpStep(const MatchedRoute& match, std::string_view path,
                                                          std::string_view host) const {
  const bool system = match.kind == MatchKind::System;
  if (const auto token = acmeChallengeToken(path);
      token && (system ? core_->tls.systemHostAcme : match.route.tlsMode == model::TlsMode::Auto))
    return {PlainHttpStep::Challenge, *token};
  if (system || !match.route.forceHttps || match.route.tlsMode == model::TlsMode::Off) return {};
  char hostBuf[256];
  if (!core_->tls.authority->redirectsToHttps(normalizeHost(host, hostBuf, sizeof hostBuf))) return {};
  return {PlainHttpStep::Redirect, {}};
}

asio::awaitable<bool> ClientSession::answerPlainHttp(RequestParser& parser, AccessRecord& record,
                                                     const MatchedRoute& match, PlainHttpStep step) {
  if (match.kind != MatchKind::System) record.routeId = match.route.id;
  if (step.kind == PlainHttpStep::Challenge) {
    // Redis, so a worker thread; whichever edge the CA reaches answers.
    auto lookup = runOnWorkers<Result<std::optional<std::string>>>(
        *core_->tls.workers, io_.strand,
        [authority = core_->tls.authority, token = std::string(step.token)] { return authority->challengeAnswer(token); });
    const Result<std::optional<std::string>> answer = co_await std::move(lookup);
    if (!answer) co_return co_await respondError(503, &parser, record);
    if (!answer.value()) co_return co_await respondError(404, &parser, record);
    co_return co_await respond(parser, record, 200, "text/plain", *answer.value(), nullptr);
  }
  const std::vector<std::pair<std::string, std::string>> location{
      {"Location", httpsRedirectUrl(record.host, toStd(parser.get().target()), core_->httpsPort.load())}};
  co_return co_await respond(parser, record, 308, "text/plain", "Moved to HTTPS\n", &location);
}

asio::awaitable<bool> ClientSession::proxy(RequestParser& parser, AccessRecord& record, const ExchangeTarget& target) {
  // The exchange (about two kilobytes with its response parser) lives in the
  // session rather than in a coroutine frame: frames that large miss
  // malloc's per-thread cache and made every request pay for a
  // consolidation of its free lists.
  exchange_.emplace(*core_, io_, parser, record);
  const bool keep = co_await exchange_->run(target);
  exchange_.reset();
  co_return keep;
}

asio::awaitable<bool> ClientSession::respondError(unsigned status, const RequestParser* parser, AccessRecord& record) {
  const auto* req = parser ? &parser->get() : nullptr;
  // Another request may follow only when this one was read to its end.
  const bool keep = req && parser->is_done() && req->keep_alive() && !core_->stopping && status != 400;
  const unsigned version = req ? req->version() : 11;
  const bool head = req && req->method() == http::verb::head;
  if (req && record.method.empty()) record.method = std::string(req->method_string());
  record.status = static_cast<int>(status);
  const LocalResponse res = errorResponse(status, version, head, keep, record.requestId);
  record.bytesSent = head ? 0 : res.body.size();
  const error_code ec = co_await writeLocalResponse(io_, res, core_->options.idleTimeout);
  co_return keep && !ec;
}

asio::awaitable<void> ClientSession::closeGracefully() {
  error_code ec;
  if (!io_.socket.is_open()) co_return;
  if (!peerClosed_) {
    // Lingering close: closing with unread client bytes (a body we did not
    // want) makes the kernel send RST, which can destroy the response the
    // client has not read yet. Half-close, drain briefly, then close.
    io_.socket.shutdown(tcp::socket::shutdown_send, ec);
    if (!ec) {
      io_.clientDog.arm(std::min<std::chrono::milliseconds>(core_->options.idleTimeout, std::chrono::seconds(2)),
                        {&io_.socket, nullptr, nullptr});
      char scratch[4096];
      const asio::mutable_buffer space(scratch, sizeof scratch);
      for (std::size_t drained = 0; drained < (4u << 20);) {
        std::size_t n = 0;
        if (!readReady(io_.stream, space, n, ec))  // the client's FIN may be here already
          n = co_await io_.stream.async_read_some(space, redirect_error(use_awaitable, ec));
        drained += n;
        if (ec) break;
      }
      io_.clientDog.disarm();
    }
  }
  io_.socket.close(ec);
}

const RouteTable* ClientSession::currentTable() {
  // Read before current(): a table published in between is picked up by
  // the next request.
  const std::uint64_t generation = core_->tables.generation();
  if (!cachedTable_ || generation != tableGeneration_) {
    tableGeneration_ = generation;
    if (auto fresh = core_->tables.current(); fresh != cachedTable_) {
      cachedTable_ = std::move(fresh);
      cachedMatch_ = nullptr;  // the selector belonged to the old table's route
      cachedSelector_.reset();
    }
  }
  return cachedTable_.get();
}

UpstreamSelector* ClientSession::routeSelector(const MatchedRoute& match) {
  if (cachedMatch_ != &match) {
    cachedSelector_ = core_->upstreams.selectorFor(match.route.id, match.upstreams);
    cachedMatch_ = &match;
  }
  return cachedSelector_.get();
}

}  // namespace proxyos::edge
