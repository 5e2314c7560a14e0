#pragma once
// One recv per read on the data plane, as nginx does, instead of two.
//
// Asio's epoll reactor tries every read at once ("speculatively") unless
// the previous read on that socket said the kernel buffer was drained, and
// it says so only at end of stream. On a proxied keep-alive connection the
// next bytes are never there yet when the next read starts (the client
// waits for our response, the upstream for our request), so every read
// cost a recv that failed with EAGAIN before the one that found data: four
// recv per proxied request where nginx makes two (docs/performance.md).
//
// A read into a DrainingBuffer reports "drained" to the reactor when the
// kernel had fewer bytes than asked for, so the next read on that socket
// waits for epoll's next readiness edge instead of trying first. That is
// safe with Asio's edge-triggered registration: any byte that arrives after
// this recv raises a new edge, and an edge that finds no read queued marks
// the socket worth trying again. A full buffer (there may be more) and
// every error keep the usual behaviour.
//
// Mechanism: DrainingBuffer is a mutable_buffer of its own type, and the
// reactor's recv operation for that type is specialised below, so nothing
// else in the process (TLS engines, the control plane) changes.
#include <boost/asio/buffer.hpp>
#include <boost/asio/detail/reactive_socket_recv_op.hpp>

namespace proxyos::edge {

/// A single buffer whose socket reads tell the reactor when they drained the
/// kernel's receive queue (see above). A MutableBufferSequence of one.
struct DrainingBuffer : boost::asio::mutable_buffer {
  explicit DrainingBuffer(const boost::asio::mutable_buffer& b) : boost::asio::mutable_buffer(b) {}
};

}  // namespace proxyos::edge

namespace boost::asio::detail {

// Asio's own do_perform (reactive_socket_recv_op.hpp, Boost 1.74) with one
// more exhausted case: a short read on a stream socket.
template <>
inline reactor_op::status reactive_socket_recv_op_base<proxyos::edge::DrainingBuffer>::do_perform(
    reactor_op* base) {
  auto* o = static_cast<reactive_socket_recv_op_base*>(base);
  const bool stream = (o->state_ & socket_ops::stream_oriented) != 0;
  const std::size_t asked = o->buffers_.size();
  if (!socket_ops::non_blocking_recv1(o->socket_, o->buffers_.data(), asked, o->flags_, stream, o->ec_,
                                      o->bytes_transferred_))
    return not_done;
  if (stream && !o->ec_ && o->bytes_transferred_ < asked) return done_and_exhausted;
  if (stream && o->bytes_transferred_ == 0) return done_and_exhausted;
  return done;
}

}  // namespace boost::asio::detail
