#pragma once
// Streams one message body from a Beast parser to a stream through a fixed
// buffer (the pattern of Beast's own relay example, asynchronous): memory
// per body is the chunk, whatever its length, and each read is passed on at
// once (read_some, not "fill the buffer"), so trickling streams such as
// server-sent events are not held back. The parser's framing
// (Content-Length, chunked, until-EOF) is decoded on the way in; on the way
// out the bytes pass as they are or re-chunked, as the caller's head says.
#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/system/error_code.hpp>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "header_arena.h"
#include "http_io.h"
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

/// Relays the rest of the message behind `parser` (its head already read)
/// to `out` with `framing`. `pending` holds bytes to send first (a head not
/// yet written, or nothing); it is also where small pieces are gathered, so
/// a small message leaves in one segment of one write. `keepGoing` is
/// checked before each step, so a caller on the same strand can stop the
/// relay between steps. Every completed step touches `dogA` and `dogB`
/// (either may be null). `written` (may be null) turns true once the last
/// byte went out.
template <bool isRequest, class In, class Out>
boost::asio::awaitable<RelayResult> relayBody(
    In& in, boost::beast::flat_buffer& inBuffer,
    boost::beast::http::parser<isRequest, boost::beast::http::buffer_body, ArenaAllocator<char>>& parser, Out& out, BodyFraming framing,
    std::string& pending, char* chunk, std::size_t chunkSize, Watchdog* dogA, Watchdog* dogB,
    const bool* keepGoing = nullptr, bool* written = nullptr) {
  namespace http = boost::beast::http;
  constexpr std::size_t kCopyBelow = 2048;
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
    std::size_t n = 0;
    if (!parser.is_done()) {
      auto& body = parser.get().body();
      body.data = chunk;
      body.size = chunkSize;
      if (!parseBuffered(inBuffer, parser, false, r.ec)) co_await readParser(in, inBuffer, parser, false, r.ec);
      if (r.ec == http::error::need_buffer) r.ec = {};
      if (r.ec) {
        r.failed = RelayResult::Side::Read;
        co_return r;
      }
      // Zero when only a chunk header was parsed.
      n = chunkSize - body.size;
      r.bytes += n;
      touch();
    }
    const bool last = parser.is_done();
    const bool chunked = framing == BodyFraming::Chunked;
    if (chunked && n > 0) {
      char size[20];
      const auto end = std::to_chars(size, size + sizeof size, n, 16).ptr;
      pending.append(size, end);
      pending += "\r\n";
    }
    std::string_view tail;
    if (chunked) tail = n > 0 ? (last ? "\r\n0\r\n\r\n" : "\r\n") : (last ? "0\r\n\r\n" : "");
    Gather<3> pieces;
    if (n < kCopyBelow) {
      pending.append(chunk, n);
      pending += tail;
      pieces = {{boost::asio::buffer(pending)}, 1};
    } else {
      pieces = {{boost::asio::buffer(pending), boost::asio::const_buffer(chunk, n),
                 boost::asio::buffer(tail.data(), tail.size())}};
    }
    if (!writeNowAll(out, pieces, r.ec)) co_await writeRest(out, pieces, r.ec);
    pending.clear();
    if (r.ec) {
      r.failed = RelayResult::Side::Write;
      co_return r;
    }
    touch();
    if (last) {
      if (written) *written = true;
      co_return r;
    }
  }
}

}  // namespace proxyos::edge
