#pragma once
// The client side of one connection as the per-request code (local
// responses, upstream exchange, tunnel) sees it. Owned by ClientSession; all
// of it is used only on the session's strand.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

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

/// A session's client socket, buffers and watchdogs.
struct ClientIo {
  ClientIo(boost::asio::ip::tcp::socket socket, const boost::asio::any_io_executor& strand);

  /// Lazily allocated body buffers (request: client → upstream; response:
  /// upstream → client).
  char* requestChunk();
  char* responseChunk();

  boost::asio::any_io_executor strand;  // or the io_context itself when single-threaded
  boost::asio::ip::tcp::socket socket;
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
