#pragma once
// One connection from the edge to an upstream, plain TCP or TLS, behind one
// stream type so the proxying code is written (and instantiated) once.
//
// Threading: the socket's executor is the io_context itself, not a strand,
// because a pooled connection is used by one session after another on
// different strands. Every operation is started from the owning session's
// coroutine and completes on that session's strand (the completion handler's
// associated executor), so at any time exactly one strand touches it.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <utility>

#include "draining_read.h"
#include "route_table.h"

namespace proxyos::edge {

class Watchdog;

/// A connection to one upstream endpoint: an Asio AsyncStream (plain or TLS
/// decided at run time) plus the read buffer that belongs to it, since bytes
/// read past one response belong to the connection, not to the request.
class UpstreamConnection {
 public:
  using executor_type = boost::asio::any_io_executor;
  using Socket = boost::asio::ip::tcp::socket;

  /// `tls` non-null: the connection speaks TLS (https upstream) with it.
  UpstreamConnection(const executor_type& ex, boost::asio::ssl::context* tls);
  UpstreamConnection(const UpstreamConnection&) = delete;
  UpstreamConnection& operator=(const UpstreamConnection&) = delete;

  executor_type get_executor() { return socket().get_executor(); }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    if (tls_) return tls_->async_read_some(buffers, std::forward<Token>(token));
    return plain_->async_read_some(drainingRead(buffers, drain_), std::forward<Token>(token));
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    if (tls_) return tls_->async_write_some(buffers, std::forward<Token>(token));
    return plain_->async_write_some(buffers, std::forward<Token>(token));
  }

  /// Resolves, connects (TCP_NODELAY) and, for TLS, handshakes with SNI and,
  /// when `verify`, certificate and host name checks. The watchdog, armed by
  /// this function with `timeout`, bounds the whole sequence; on expiry the
  /// result is boost::asio::error::timed_out.
  boost::asio::awaitable<boost::system::error_code> connect(const UpstreamEndpoint& endpoint, bool verify,
                                                            Watchdog& watchdog, std::chrono::milliseconds timeout);

  /// What a plain connection's kernel buffer takes now (never waits);
  /// would_block on TLS, whose writes go through the TLS stream.
  std::size_t writeNow(std::span<const boost::asio::const_buffer> buffers, boost::system::error_code& ec);
  /// What a plain connection's kernel buffer holds now (never waits;
  /// draining_read.h readReady); would_block on TLS.
  std::size_t readNow(const boost::asio::mutable_buffer& buffer, boost::system::error_code& ec);
  /// Whether the last read drained the socket (draining_read.h).
  bool drained() const { return drain_.drained; }

  /// Half-closes the sending side where the transport allows it (tunnels).
  void shutdownSend();
  /// Closes the socket; pending operations complete with an error.
  void close();
  bool isOpen() const;
  /// A cheap check before reusing an idle pooled connection: false when the
  /// peer has closed it or sent bytes nobody asked for.
  bool looksReusable();

  Socket& socket() { return tls_ ? tls_->next_layer() : *plain_; }
  bool tls() const { return tls_ != nullptr; }
  boost::beast::flat_buffer& buffer() { return buffer_; }

  /// When it went idle in the pool (Clock::monotonic()).
  std::chrono::steady_clock::time_point idleSince{};

 private:
  std::optional<Socket> plain_;
  std::unique_ptr<boost::asio::ssl::stream<Socket>> tls_;
  DrainState drain_;
  boost::beast::flat_buffer buffer_;
};

}  // namespace proxyos::edge
