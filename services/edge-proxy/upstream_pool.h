#pragma once
// Per-endpoint shared state: passive health and the idle keep-alive pool.
//
// Pooling choice: one pool per upstream endpoint guarded by its own small
// mutex, shared by all io_context threads — not per-thread pools. With one
// io_context run by N threads a session is not pinned to a thread, so
// per-thread pools would need a thread-local lookup and would strand idle
// connections on threads that no longer serve that upstream. The critical
// section is a vector push or pop (tens of nanoseconds, no syscall), taken
// once per request, so contention stays negligible next to the request's own
// syscalls. LIFO reuse keeps the warmest connection busy and lets the others
// age out under the idle sweep.
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "route_table.h"
#include "shared/core/clock.h"
#include "upstream_connection.h"
#include "upstream_health.h"

namespace proxyos::edge {

/// One upstream endpoint (scheme, host, port) as the data plane tracks it,
/// shared by every route that lists it. Thread-safe.
class UpstreamState {
 public:
  UpstreamState(UpstreamEndpoint endpoint, std::size_t maxIdle);
  ~UpstreamState();

  const UpstreamEndpoint& endpoint() const { return endpoint_; }
  /// "host:port" for access logs (never shown to clients).
  const std::string& label() const { return label_; }
  UpstreamHealth& health() { return health_; }

  /// The most recently pooled connection that is still usable, or nullptr.
  /// Connections idle since before `now - idleTimeout` are closed on the way.
  /// `probe`: check the socket for a peer close (one recv syscall); callers
  /// skip it for connections idle only briefly when the request may be
  /// retried anyway.
  std::unique_ptr<UpstreamConnection> takeIdle(Clock::MonoTime now, std::chrono::milliseconds idleTimeout, bool probe);
  /// Pools a connection that finished a response cleanly; closes it when the
  /// pool is full. The caller must have disarmed every watchdog on it.
  void putIdle(std::unique_ptr<UpstreamConnection> conn, Clock::MonoTime now);
  /// Closes connections idle longer than `idleTimeout` or closed by the peer.
  void sweep(Clock::MonoTime now, std::chrono::milliseconds idleTimeout);
  /// Closes every idle connection and refuses new ones (server stop).
  void closeIdle(bool refuseMore);
  std::size_t idleCount() const;

 private:
  const UpstreamEndpoint endpoint_;
  const std::string label_;
  const std::size_t maxIdle_;
  UpstreamHealth health_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<UpstreamConnection>> idle_;  // oldest first
  bool refuse_ = false;
};

}  // namespace proxyos::edge
