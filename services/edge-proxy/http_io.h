#pragma once
// HTTP/1.1 on the wire for the data plane: Beast's parser fed by plain
// coroutines over the stream's own async_read_some, and heads written from
// Beast's field containers without Beast's serializer.
//
// Why not http::async_read_header / async_write and http::serializer: the
// former are three layers of composed operations, each tracking work through
// a type-erased executor and allocating its state; the serializer walks a
// variant of buffer sequences per piece. Together they cost more CPU per
// proxied request than parsing and all header edits (measured with
// callgrind: about a quarter of the edge's user-space instructions). The read
// loop below is Beast's own read_some_op algorithm
// (boost/beast/http/impl/read.hpp) with its end-of-stream convention, so
// callers see the same error codes.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/system/error_code.hpp>
#include <array>
#include <cstddef>
#include <span>
#include <string>

#include "draining_read.h"
#include "header_arena.h"

namespace proxyos::edge {

/// Whether `ec` is the peer ending the connection: a TCP end of stream, or
/// a TLS peer that closed without close_notify (browsers and curl do).
inline bool isEndOfStream(const boost::system::error_code& ec) {
  return ec == boost::asio::error::eof || ec == boost::asio::ssl::error::stream_truncated;
}

/// Feeds `parser` from what `buffer` already holds. True when that settled
/// the step (see readParser; `ec` set on failure), false when bytes must be
/// read first. Callers try it before readParser: a coroutine call costs a
/// frame, and the bytes are often there already (a request head read with
/// the idle wait, a small body that came with its head).
template <bool isRequest>
bool parseBuffered(boost::beast::flat_buffer& buffer, boost::beast::http::basic_parser<isRequest>& parser,
                   bool headerOnly, boost::system::error_code& ec) {
  ec = {};
  if (headerOnly && parser.is_header_done()) return true;
  if (buffer.size() == 0) return false;
  buffer.consume(parser.put(buffer.data(), ec));
  if (ec == boost::beast::http::error::need_more) {
    ec = {};
    return false;
  }
  return ec || !headerOnly || parser.is_header_done();
}

/// Reads from `stream` into `buffer` and feeds `parser` until it made
/// progress (`headerOnly` false: http::async_read_some) or has the whole
/// head (true: http::async_read_header). `ec` as Beast reports it:
/// need_buffer when a buffer_body's buffer is full, end_of_stream on a clean
/// close before any byte of the message.
template <class Stream, bool isRequest>
boost::asio::awaitable<void> readParser(Stream& stream, boost::beast::flat_buffer& buffer,
                                        boost::beast::http::basic_parser<isRequest>& parser, bool headerOnly,
                                        boost::system::error_code& ec) {
  namespace http = boost::beast::http;
  for (;;) {
    if (parseBuffered(buffer, parser, headerOnly, ec)) co_return;
    const std::size_t size = boost::beast::read_size(buffer, 65536);
    if (size == 0) {
      ec = http::error::buffer_overflow;
      co_return;
    }
    const auto space = buffer.prepare(size);
    std::size_t n = 0;
    // Only the first byte of a message may wait for epoll without looking
    // (draining_read.h).
    const bool midMessage = parser.got_some() || buffer.size() > 0;
    if (!(midMessage && readReady(stream, space, n, ec)))
      n = co_await stream.async_read_some(space, boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    buffer.commit(n);
    if (isEndOfStream(ec)) {
      if (!parser.got_some()) {
        ec = http::error::end_of_stream;
        co_return;
      }
      ec = {};
      parser.put_eof(ec);  // completes an until-EOF body, else partial_message
      co_return;
    }
    if (ec) co_return;
  }
}

/// How body bytes go out: as they came (Content-Length, or until the
/// connection closes), or re-chunked.
enum class BodyFraming { Raw, Chunked };

/// Appends the head in HTTP/1.x wire form: start line, fields in their
/// order, blank line. One contiguous buffer, so a small message leaves in
/// one segment of one write (a writev of a dozen tiny segments, one per
/// field as Beast's serializer hands them out, costs the kernel measurably
/// more).
void appendHead(const boost::beast::http::request_header<Fields>& head, std::string& out);
void appendHead(const boost::beast::http::response_header<Fields>& head, std::string& out);
void appendHead(const boost::beast::http::response_header<>& head, std::string& out);

/// A write that never waits: on a socket in non-blocking mode, what the
/// kernel takes now; otherwise nothing (would_block).
inline std::size_t writeNow(boost::asio::ip::tcp::socket& socket,
                            std::span<const boost::asio::const_buffer> buffers, boost::system::error_code& ec) {
  if (!socket.non_blocking()) {
    ec = boost::asio::error::would_block;
    return 0;
  }
  return socket.write_some(buffers, ec);
}

template <class Stream>
std::size_t writeNow(Stream& stream, std::span<const boost::asio::const_buffer> buffers,
                     boost::system::error_code& ec) {
  return stream.writeNow(buffers, ec);
}

/// Buffers on their way out: what is left of them after each step.
template <std::size_t N>
struct Gather {
  std::array<boost::asio::const_buffer, N> buffers;
  std::size_t count = N;
  std::size_t first = 0;

  bool done() {
    while (first < count && buffers[first].size() == 0) ++first;
    return first == count;
  }
  std::span<const boost::asio::const_buffer> rest() const { return {buffers.data() + first, count - first}; }
  void consume(std::size_t n) {
    for (; n > 0; ++first) {
      if (n < buffers[first].size()) {
        buffers[first] += n;
        return;
      }
      n -= buffers[first].size();
    }
  }
};

/// Sends what the kernel takes at once, never waiting. True when nothing is
/// left or the write failed (`ec`); false when writeRest() must finish.
/// Tried first because the socket buffer nearly always has room, and an
/// asynchronous write would cost a trip through the scheduler, a coroutine
/// frame and a suspension to learn that.
template <class Stream, std::size_t N>
bool writeNowAll(Stream& stream, Gather<N>& out, boost::system::error_code& ec) {
  ec = {};
  while (!out.done()) {
    const std::size_t n = writeNow(stream, out.rest(), ec);
    if (ec == boost::asio::error::would_block) {
      ec = {};
      return false;
    }
    if (ec) return true;
    out.consume(n);
  }
  return true;
}

/// Writes what is left of `out` (asio::async_write without the composed
/// operation).
template <class Stream, std::size_t N>
boost::asio::awaitable<void> writeRest(Stream& stream, Gather<N>& out, boost::system::error_code& ec) {
  ec = {};
  while (!out.done()) {
    const std::size_t n =
        co_await stream.async_write_some(out.rest(), boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    if (ec) co_return;
    out.consume(n);
  }
}

}  // namespace proxyos::edge
