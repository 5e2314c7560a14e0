#pragma once
// After an upstream accepts an Upgrade (101 Switching Protocols, e.g.
// WebSocket), the edge stops speaking HTTP on that connection pair and copies
// bytes both ways until both directions are closed, either side fails, or
// nothing moves for the idle timeout.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>

#include "client_io.h"
#include "upstream_connection.h"

namespace proxyos::edge {

/// Bytes a tunnel carried.
struct TunnelResult {
  std::uint64_t toClient = 0;
  std::uint64_t toUpstream = 0;
};

/// Runs the tunnel on the session's strand. Bytes either side sent right
/// after the handshake (already in `io.buffer` or `upstream.buffer()`) go
/// first. An EOF in one direction half-closes the other side's sending
/// direction and the opposite direction keeps flowing (TCP semantics); any
/// error closes both. Both connections are closed when it returns: a
/// tunnelled upstream connection is never pooled.
boost::asio::awaitable<TunnelResult> runTunnel(ClientIo& io, UpstreamConnection& upstream,
                                               std::chrono::milliseconds idleTimeout);

}  // namespace proxyos::edge
