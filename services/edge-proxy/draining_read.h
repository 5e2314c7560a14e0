#pragma once
// One recv per read on the data plane, as nginx does, instead of two.
//
// Asio's epoll reactor tries every read at once ("speculatively") unless
// the previous read on that socket said the kernel buffer was drained, and
// it says so only at end of stream. On a proxied keep-alive connection the
// next bytes are never there yet when the next turn's read starts (the
// client waits for our response, the upstream for our request), so every
// such read cost a recv that failed with EAGAIN before the one that found
// data: four recv per proxied request where nginx makes two
// (docs/performance.md).
//
// A read into a DrainingBuffer reports "drained" to the reactor when the
// kernel had fewer bytes than asked for, so the next read on that socket
// waits for epoll's next readiness edge instead of trying first. Bytes that
// arrive later raise a new edge (Asio registers sockets edge-triggered, and
// an edge that finds no read queued marks the socket worth trying again).
// What raises no new edge is an end of stream or a reset that came together
// with the bytes just read: the kernel stops a read at the FIN, and the
// next read would find it, but nothing wakes that read. So:
//
// - a read that starts a turn (the first byte of a request or a response)
//   just waits: that is where the saving is. A FIN that came with the
//   previous message is then seen late: an upstream answers our next
//   request on that connection with a reset (an edge; the exchange retries
//   as for any stale connection), and a client that half-closed after a
//   keep-alive request is closed by the idle timeout;
// - a read in the middle of a message or stream calls readReady() first,
//   which looks at the socket itself (one non-blocking recv, what Asio's own
//   attempt cost) whenever the previous read drained it.
//
// Mechanism: DrainingBuffer is a mutable_buffer of its own type, and the
// reactor's recv operation for that type is specialised below, so nothing
// else in the process (TLS engines, the control plane) changes. The same
// operation records its outcome in the stream's DrainState, which
// readReady consults. The streams (ClientStream, UpstreamConnection) read
// their plain sockets this way by themselves.
#include <boost/asio/buffer.hpp>
#include <boost/asio/detail/reactive_socket_recv_op.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <type_traits>

namespace proxyos::edge {

/// Whether the last read the reactor completed on a socket drained it, i.e.
/// whether the reactor now waits for an edge before trying that socket.
struct DrainState {
  bool drained = false;
};

/// A single buffer whose socket reads tell the reactor when they drained the
/// kernel's receive queue (see above), and record that in `state` when
/// given. A MutableBufferSequence of one.
struct DrainingBuffer : boost::asio::mutable_buffer {
  explicit DrainingBuffer(const boost::asio::mutable_buffer& b, DrainState* s = nullptr)
      : boost::asio::mutable_buffer(b), state(s) {}
  DrainState* state;
};

/// What a stream hands its plain socket's async_read_some: a single buffer
/// as a DrainingBuffer that records into `state`; any other sequence as it is.
template <class MutableBuffers>
decltype(auto) drainingRead(const MutableBuffers& buffers, DrainState& state) {
  if constexpr (std::is_convertible_v<const MutableBuffers&, boost::asio::mutable_buffer>)
    return DrainingBuffer(buffers, &state);
  else
    return (buffers);
}

/// For a read in the middle of a message or stream, before the stream's
/// async_read_some: when the previous read drained the socket, reads what
/// the kernel has now. True when that settled the read
/// (`n` bytes, or `ec` such as eof); false when the asynchronous read is
/// needed. Stream: drained() and readNow(buffer, ec), which never waits
/// (would_block when it cannot read now, e.g. over TLS, whose engine reads
/// the socket without DrainingBuffer).
template <class Stream>
bool readReady(Stream& stream, const boost::asio::mutable_buffer& b, std::size_t& n,
               boost::system::error_code& ec) {
  if (!stream.drained()) return false;  // the reactor tries the socket itself
  n = stream.readNow(b, ec);
  if (ec != boost::asio::error::would_block) return true;
  ec = {};
  n = 0;
  return false;
}

}  // namespace proxyos::edge

namespace boost::asio::detail {

// Asio's own do_perform (reactive_socket_recv_op.hpp, Boost 1.74) with one
// more exhausted case, a short read on a stream socket, and the outcome
// written to the buffer's DrainState.
template <>
inline reactor_op::status reactive_socket_recv_op_base<proxyos::edge::DrainingBuffer>::do_perform(
    reactor_op* base) {
  auto* o = static_cast<reactive_socket_recv_op_base*>(base);
  const bool stream = (o->state_ & socket_ops::stream_oriented) != 0;
  const std::size_t asked = o->buffers_.size();
  if (!socket_ops::non_blocking_recv1(o->socket_, o->buffers_.data(), asked, o->flags_, stream, o->ec_,
                                      o->bytes_transferred_))
    return not_done;
  const bool exhausted = stream && (o->bytes_transferred_ < asked || o->bytes_transferred_ == 0);
  if (o->buffers_.state) o->buffers_.state->drained = exhausted;
  return exhausted ? done_and_exhausted : done;
}

}  // namespace boost::asio::detail
