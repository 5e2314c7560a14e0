#pragma once
// The client side of one connection as the per-request code (local
// responses, upstream exchange, tunnel) sees it. Owned by ClientSession; all
// of it is used only on the session's strand.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "draining_read.h"
#include "header_arena.h"
#include "watchdog.h"

namespace proxyos::edge {

using RequestParser = boost::beast::http::request_parser<boost::beast::http::buffer_body, ArenaAllocator<char>>;
using ResponseParser = boost::beast::http::response_parser<boost::beast::http::buffer_body, ArenaAllocator<char>>;

/// "No body limit". Not boost::none: Beast 1.74 compares a Content-Length
/// against an empty optional as greater (`len_ > body_limit_`), so none
/// rejects every Content-Length body with body_limit.
inline constexpr std::uint64_t kUnlimitedBody = ~std::uint64_t{0};

/// Bodies move through fixed buffers of this size, one per direction and
/// connection, allocated when a connection first streams a body.
inline constexpr std::size_t kBodyChunkBytes = 64 * 1024;

/// The client connection as a byte stream: the socket itself, or TLS over
/// it (HTTPS listener). Reads and writes go through here; socket-level
/// control (shutdown, close, watchdogs) uses the socket. A plain connection
/// pays one predictable branch per operation.
class ClientStream {
 public:
  using executor_type = boost::asio::ip::tcp::socket::executor_type;
  using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>;

  explicit ClientStream(boost::asio::ip::tcp::socket& socket) : socket_(socket) {}

  /// Before the first byte: this connection speaks TLS (handshake next).
  void useTls(boost::asio::ssl::context& context) { tls_ = std::make_unique<TlsStream>(socket_, context); }
  bool secure() const { return tls_ != nullptr; }
  TlsStream* tls() { return tls_.get(); }
  /// The SNI name the client asked for ("" without TLS or SNI).
  std::string_view serverName() const;

  executor_type get_executor() { return socket_.get_executor(); }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBuffers& b) {
          if (tls_)
            tls_->async_read_some(b, std::move(handler));
          else
            socket_.async_read_some(drainingRead(b, drain_), std::move(handler));
        },
        token, buffers);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBuffers& b) {
          if (tls_)
            tls_->async_write_some(b, std::move(handler));
          else
            socket_.async_write_some(b, std::move(handler));
        },
        token, buffers);
  }

  /// A write that never waits (http_io.h): on plain TCP what the kernel
  /// takes now; over TLS nothing (would_block), the asynchronous path
  /// encrypts and writes.
  std::size_t writeNow(std::span<const boost::asio::const_buffer> buffers, boost::system::error_code& ec);
  /// A read that never waits (draining_read.h readReady): on plain TCP what
  /// the kernel has now; over TLS nothing (would_block).
  std::size_t readNow(const boost::asio::mutable_buffer& buffer, boost::system::error_code& ec);
  /// Whether the last read drained the socket (draining_read.h).
  bool drained() const { return drain_.drained; }

 private:
  boost::asio::ip::tcp::socket& socket_;
  std::unique_ptr<TlsStream> tls_;
  DrainState drain_;
};

/// A session's client socket, buffers and watchdogs.
struct ClientIo {
  ClientIo(boost::asio::ip::tcp::socket socket, const boost::asio::any_io_executor& strand);

  /// Lazily allocated body buffers (request: client → upstream; response:
  /// upstream → client).
  char* requestChunk();
  char* responseChunk();

  boost::asio::any_io_executor strand;  // or the io_context itself when single-threaded
  boost::asio::ip::tcp::socket socket;
  ClientStream stream{socket};  // what requests are read from and responses written to
  boost::beast::flat_buffer buffer;  // bytes read from the client not yet parsed
  std::string clientIp;              // textual, IPv4-mapped addresses shown as IPv4
  Watchdog clientDog;                // client reads: request head and body
  Watchdog upstreamDog;              // connect, response head, response body, tunnel
  // Copies of small serializer pieces while a write is in flight (http_io.h),
  // one per direction since the request body pump writes upstream while the
  // response goes to the client.
  std::string toClientScratch;
  std::string toUpstreamScratch;
  // The fields of the current request and of its response (header_arena.h);
  // reset when the next request starts.
  HeaderArena headerArena;

 private:
  std::unique_ptr<char[]> requestChunk_;
  std::unique_ptr<char[]> responseChunk_;
};

}  // namespace proxyos::edge
