#pragma once
// Streams one message body from a Beast parser to a Beast serializer through
// a fixed buffer (the pattern of Beast's own relay example, asynchronous):
// memory per body is the chunk, whatever its length, and each read is passed
// on at once (read_some, not "fill the buffer"), so trickling streams such
// as server-sent events are not held back. The parser's framing
// (Content-Length, chunked, until-EOF) is decoded on the way in and the
// serializer re-frames on the way out from the message's own fields.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <cstdint>

#include "watchdog.h"

namespace proxyos::edge {

/// How a relay ended.
struct RelayResult {
  enum class Side { None, Read, Write };
  boost::system::error_code ec;
  Side failed = Side::None;
  std::uint64_t bytes = 0;  // body bytes handed to the serializer
  bool ok() const { return failed == Side::None; }
};

/// Relays the rest of the message behind `parser` (its head already read) to
/// `serializer` (built over parser.get(); its head may or may not be written
/// yet). `keepGoing` is checked before each step, so a caller on the same
/// strand can stop the relay between steps. Every completed step touches
/// `dogA` and `dogB` (either may be null).
template <bool isRequest, class In, class Out>
boost::asio::awaitable<RelayResult> relayBody(
    In& in, boost::beast::flat_buffer& inBuffer,
    boost::beast::http::parser<isRequest, boost::beast::http::buffer_body>& parser, Out& out,
    boost::beast::http::serializer<isRequest, boost::beast::http::buffer_body>& serializer, char* chunk,
    std::size_t chunkSize, Watchdog* dogA, Watchdog* dogB, const bool* keepGoing = nullptr) {
  namespace http = boost::beast::http;
  using boost::asio::redirect_error;
  using boost::asio::use_awaitable;
  RelayResult r;
  auto touch = [&] {
    if (dogA) dogA->touch();
    if (dogB) dogB->touch();
  };
  for (;;) {
    if (keepGoing && !*keepGoing) {
      r.failed = RelayResult::Side::Read;
      r.ec = boost::asio::error::operation_aborted;
      co_return r;
    }
    auto& body = parser.get().body();
    if (!parser.is_done()) {
      body.data = chunk;
      body.size = chunkSize;
      co_await http::async_read_some(in, inBuffer, parser, redirect_error(use_awaitable, r.ec));
      if (r.ec == http::error::need_buffer) r.ec = {};
      if (r.ec) {
        r.failed = RelayResult::Side::Read;
        co_return r;
      }
      body.size = chunkSize - body.size;
      // Nothing new (only a chunk header was parsed): no data pointer, so
      // the serializer answers need_buffer. A zero-sized buffer would be
      // serialized as chunk "0", the end of a chunked body.
      body.data = body.size > 0 ? chunk : nullptr;
      body.more = !parser.is_done();
      r.bytes += body.size;
      touch();
    } else {
      body.data = nullptr;
      body.size = 0;
      body.more = false;
    }
    // With no data yet this writes at most the head (when not yet sent).
    co_await http::async_write(out, serializer, redirect_error(use_awaitable, r.ec));
    if (r.ec == http::error::need_buffer) r.ec = {};
    if (r.ec) {
      r.failed = RelayResult::Side::Write;
      co_return r;
    }
    touch();
    if (serializer.is_done()) co_return r;
  }
}

}  // namespace proxyos::edge
