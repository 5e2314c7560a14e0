#include "upstream_connection.h"

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <string>

#include "watchdog.h"

namespace proxyos::edge {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

UpstreamConnection::UpstreamConnection(const executor_type& ex, asio::ssl::context* tls) {
  if (tls)
    tls_ = std::make_unique<asio::ssl::stream<Socket>>(ex, *tls);
  else
    plain_.emplace(ex);
}

asio::awaitable<error_code> UpstreamConnection::connect(const UpstreamEndpoint& endpoint, bool verify,
                                                        Watchdog& watchdog, std::chrono::milliseconds timeout) {
  error_code ec;
  Socket& sock = socket();
  // IP literals (the common case for docker/LAN upstreams) skip the
  // resolver, whose getaddrinfo runs on a helper thread.
  const auto literal = asio::ip::make_address(endpoint.host, ec);
  if (!ec) {
    watchdog.arm(timeout, {nullptr, this, nullptr});
    co_await sock.async_connect(tcp::endpoint(literal, endpoint.port), asio::redirect_error(asio::use_awaitable, ec));
  } else {
    tcp::resolver resolver(sock.get_executor());
    watchdog.arm(timeout, {nullptr, this, &resolver});
    const auto results = co_await resolver.async_resolve(endpoint.host, std::to_string(endpoint.port),
                                                         asio::redirect_error(asio::use_awaitable, ec));
    // The resolver dies with this frame: the watchdog must not reach it.
    watchdog.arm(timeout, {nullptr, this, nullptr});
    if (!ec) co_await asio::async_connect(sock, results, asio::redirect_error(asio::use_awaitable, ec));
  }
  if (!ec) sock.set_option(tcp::no_delay(true), ec);
  // Writes try a plain send first (http_io.h writeNowAll).
  if (!ec) sock.non_blocking(true, ec);
  if (!ec && tls_) {
    // SNI only for names: RFC 6066 forbids IP literals in server_name.
    error_code notIp;
    asio::ip::make_address(endpoint.host, notIp);
    if (notIp) SSL_set_tlsext_host_name(tls_->native_handle(), endpoint.host.c_str());
    if (verify) {
      tls_->set_verify_mode(asio::ssl::verify_peer, ec);
      if (!ec) tls_->set_verify_callback(asio::ssl::host_name_verification(endpoint.host), ec);
    } else {
      tls_->set_verify_mode(asio::ssl::verify_none, ec);
    }
    if (!ec)
      co_await tls_->async_handshake(asio::ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
  }
  const bool timedOut = watchdog.fired();
  watchdog.disarm();
  if (timedOut) ec = asio::error::timed_out;
  co_return ec;
}

std::size_t UpstreamConnection::writeNow(std::span<const asio::const_buffer> buffers, error_code& ec) {
  if (tls_ || !plain_->non_blocking()) {
    ec = asio::error::would_block;
    return 0;
  }
  return plain_->write_some(buffers, ec);
}

std::size_t UpstreamConnection::readNow(const asio::mutable_buffer& buffer, error_code& ec) {
  if (tls_ || !plain_->non_blocking()) {
    ec = asio::error::would_block;
    return 0;
  }
  return plain_->read_some(buffer, ec);
}

void UpstreamConnection::shutdownSend() {
  error_code ec;
  // A TLS stream has no half-close (close_notify ends both directions);
  // the tunnel then waits for the other side or the idle timeout.
  if (!tls_) socket().shutdown(tcp::socket::shutdown_send, ec);
}

void UpstreamConnection::close() {
  error_code ec;
  socket().close(ec);
}

bool UpstreamConnection::isOpen() const { return tls_ ? tls_->next_layer().is_open() : plain_->is_open(); }

bool UpstreamConnection::looksReusable() {
  if (!isOpen()) return false;
  char byte;
  const ssize_t n = ::recv(socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
  // n == 0: the upstream closed. n > 0 on plain HTTP: bytes nobody asked for.
  // On TLS, pending bytes may be a session ticket or a key update, which the
  // next read consumes; a close_notify shows up as a read error and the
  // request is retried like any stale connection.
  return n > 0 && tls_ != nullptr;
}

}  // namespace proxyos::edge
