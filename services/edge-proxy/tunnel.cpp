#include "tunnel.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "http_io.h"

namespace proxyos::edge {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// One direction. `pending`: bytes already read from `from` before the
// tunnel began. `halfClose` shuts down `to`'s sending side on a clean EOF.
template <class From, class To, class HalfClose, class CloseBoth>
asio::awaitable<void> pipe(From& from, boost::beast::flat_buffer& pending, To& to, char* chunk, std::size_t size,
                           Watchdog& dog, std::uint64_t& counter, HalfClose halfClose, CloseBoth closeBoth) {
  error_code ec;
  if (pending.size() > 0) {
    const std::size_t n = co_await asio::async_write(to, pending.data(), asio::redirect_error(asio::use_awaitable, ec));
    pending.consume(pending.size());
    counter += n;
    if (ec) {
      closeBoth();
      co_return;
    }
  }
  for (;;) {
    // Mid-stream: a FIN or reset that came with the last bytes must be seen
    // now, so look before waiting (draining_read.h).
    const asio::mutable_buffer space(chunk, size);
    std::size_t n = 0;
    if (!readReady(from, space, n, ec))
      n = co_await from.async_read_some(space, asio::redirect_error(asio::use_awaitable, ec));
    if (isEndOfStream(ec)) {
      halfClose();
      co_return;
    }
    if (ec) {
      closeBoth();
      co_return;
    }
    dog.touch();
    co_await asio::async_write(to, asio::buffer(chunk, n), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      closeBoth();
      co_return;
    }
    counter += n;
    dog.touch();
  }
}

}  // namespace

asio::awaitable<TunnelResult> runTunnel(ClientIo& io, UpstreamConnection& upstream,
                                        std::chrono::milliseconds idleTimeout) {
  TunnelResult result;
  auto closeBoth = [&io, &upstream] {
    error_code ec;
    io.socket.close(ec);
    upstream.close();
  };
  io.upstreamDog.arm(idleTimeout, {&io.socket, &upstream, nullptr});

  // upstream → client runs as its own coroutine on the same strand; this one
  // carries client → upstream and then waits for it. The strand makes the
  // concurrent read and write on each socket (one each) safe.
  bool downDone = false;
  asio::steady_timer downSignal(io.strand, asio::steady_timer::time_point::max());
  asio::co_spawn(
      io.strand,
      pipe(
          upstream, upstream.buffer(), io.stream, io.responseChunk(), kBodyChunkBytes, io.upstreamDog, result.toClient,
          [&io] {
            error_code ec;
            io.socket.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
          },
          closeBoth),
      [&downDone, &downSignal](std::exception_ptr) {
        downDone = true;
        downSignal.cancel();
      });

  co_await pipe(
      io.stream, io.buffer, upstream, io.requestChunk(), kBodyChunkBytes, io.upstreamDog, result.toUpstream,
      [&upstream] { upstream.shutdownSend(); }, closeBoth);
  if (!downDone) {
    error_code ec;
    co_await downSignal.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  io.upstreamDog.disarm();
  closeBoth();
  co_return result;
}

}  // namespace proxyos::edge
