#include "proxy_server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>

#include "client_session.h"
#include "proxy_core.h"
#include "sso_context.h"

namespace proxyos::edge {

namespace asio = boost::asio;
using asio::redirect_error;
using asio::use_awaitable;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

Result<tcp::endpoint> listenEndpoint(asio::io_context& ioc, const std::string& host, std::uint16_t port) {
  if (host.empty()) return tcp::endpoint(tcp::v4(), port);
  error_code ec;
  const auto addr = asio::ip::make_address(host, ec);
  if (!ec) return tcp::endpoint(addr, port);
  // A name ("localhost"): resolved once at start-up, not on the request path.
  tcp::resolver resolver(ioc);
  const auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec || results.empty())
    return Error::make(ErrorKind::Invalid, "invalid_listen_address", "cannot resolve listen host \"" + host + "\"");
  return results.begin()->endpoint();
}

}  // namespace

ProxyServer::ProxyServer(asio::io_context& ioc, TableHolder& tables, ProxyOptions options, ProxyObserver& observer,
                         SystemRouteHandler& system, const Clock& clock)
    : core_(std::make_shared<ProxyCore>(ioc, tables, std::move(options), observer, system, clock)),
      strand_(core_->sessionExecutor()) {}

ProxyServer::~ProxyServer() { stop(); }

Result<std::uint16_t> ProxyServer::listen(const std::string& host, std::uint16_t port) {
  return open(host, port, false);
}

Status ProxyServer::setTls(TlsServing tls) {
  if (!tls.certs || !tls.authority || !tls.workers)
    return Error::make(ErrorKind::Internal, "tls_incomplete", "setTls needs certificates, an authority and workers");
  auto ctx = makeServerTlsContext(*tls.certs);
  if (!ctx) return ctx.error();
  core_->tls = tls;
  core_->tlsServer = std::move(ctx.value());
  return okStatus();
}

Result<std::uint16_t> ProxyServer::listenTls(const std::string& host, std::uint16_t port) {
  if (!core_->tlsServer)
    return Error::make(ErrorKind::Internal, "tls_not_configured", "listenTls before setTls");
  auto bound = open(host, port, true);
  if (bound) core_->httpsPort = bound.value();
  return bound;
}

Result<std::uint16_t> ProxyServer::open(const std::string& host, std::uint16_t port, bool secure) {
  auto ep = listenEndpoint(core_->ioc, host, port);
  if (!ep) return ep.error();
  auto acceptor = std::make_shared<tcp::acceptor>(strand_);
  error_code ec;
  const auto fail = [&](const char* what) {
    return Error::make(ErrorKind::Unavailable, "listen_failed",
                       std::string(what) + " " + host + ":" + std::to_string(port) + ": " + ec.message());
  };
  acceptor->open(ep.value().protocol(), ec);
  if (ec) return fail("cannot open");
  acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  acceptor->bind(ep.value(), ec);
  if (ec) return fail("cannot bind");
  acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("cannot listen on");
  const std::uint16_t bound = acceptor->local_endpoint(ec).port();
  if (ec) return fail("cannot read the port of");

  std::lock_guard lock(mu_);
  if (stopped_) return Error::make(ErrorKind::Unavailable, "stopped", "the proxy server was stopped");
  acceptors_.push_back(acceptor);
  asio::co_spawn(strand_, acceptLoop(core_, acceptor, secure), asio::detached);
  if (!sweepTimer_) {
    sweepTimer_ = std::make_shared<asio::steady_timer>(strand_);
    asio::co_spawn(strand_, sweepLoop(core_, sweepTimer_), asio::detached);
  }
  return bound;
}

void ProxyServer::stop() {
  std::vector<std::shared_ptr<tcp::acceptor>> acceptors;
  std::shared_ptr<asio::steady_timer> timer;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    acceptors.swap(acceptors_);
    timer = sweepTimer_;
  }
  core_->stopping = true;
  // Acceptors and the timer are only ever touched on their strand.
  asio::post(strand_, [acceptors = std::move(acceptors), timer] {
    error_code ec;
    for (const auto& a : acceptors) a->close(ec);
    if (timer) timer->cancel();
  });
  core_->upstreams.closeIdle(true);
  for (const auto& session : core_->liveSessions()) session->requestStop();
}

void ProxyServer::setSso(SsoContext* sso) { core_->sso = sso; }

void ProxyServer::revokeSession(const std::string& sessionId) {
  if (!core_->sso || sessionId.empty()) return;
  core_->sso->verdicts.revoke(sessionId);
  // Each session checks on its own strand; revocations are rare, so a post
  // to every open connection is cheaper than tracking sessions per request.
  for (const auto& session : core_->liveSessions()) session->closeIfSession(sessionId);
}

std::size_t ProxyServer::connectionCount() const { return core_->sessionCount(); }

std::size_t ProxyServer::idleUpstreamConnections() const { return core_->upstreams.idleCount(); }

asio::awaitable<void> ProxyServer::acceptLoop(std::shared_ptr<ProxyCore> core,
                                              std::shared_ptr<tcp::acceptor> acceptor, bool secure) {
  for (;;) {
    error_code ec;
    // The new socket runs on the io_context, not on this strand: its
    // session gets a strand of its own.
    tcp::socket socket = co_await acceptor->async_accept(core->ioc.get_executor(), redirect_error(use_awaitable, ec));
    if (!acceptor->is_open() || core->stopping) co_return;
    if (ec) {
      // EMFILE and friends: back off briefly instead of spinning.
      spdlog::warn("edge: accept failed: {}", ec.message());
      asio::steady_timer pause(acceptor->get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(redirect_error(use_awaitable, ec));
      continue;
    }
    ClientSession::start(core, std::move(socket), secure);
  }
}

asio::awaitable<void> ProxyServer::sweepLoop(std::shared_ptr<ProxyCore> core,
                                             std::shared_ptr<asio::steady_timer> timer) {
  // Idle pooled connections are checked lazily when taken; this sweep
  // frees the ones nobody takes (an upstream no route uses any more, an
  // upstream that closed them) once a second.
  const auto period = std::min<std::chrono::milliseconds>(core->options.idleTimeout, std::chrono::seconds(1));
  for (;;) {
    timer->expires_after(period);
    error_code ec;
    co_await timer->async_wait(redirect_error(use_awaitable, ec));
    if (ec || core->stopping) co_return;
    core->upstreams.sweepIdle(core->clock.monotonic(), core->options.idleTimeout);
  }
}

}  // namespace proxyos::edge
