#pragma once
// TCP on 127.0.0.1 for tests: pick a port, wait for a listener, probe it.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace proxyos::testing {

/// A port that was free a moment ago, below the kernel's ephemeral range (so
/// no outgoing connection takes it), never the same twice in a process.
/// Another test process may still pick it before the caller binds it, so
/// servers started on it retry with a new one when they fail to bind.
uint16_t freePort();

/// True once something accepts TCP connections on 127.0.0.1:port.
bool waitForPort(uint16_t port, std::chrono::milliseconds timeout);

/// Connects to 127.0.0.1:port, sends `request` and reads until the peer closes
/// the connection. nullopt when it cannot connect or the exchange does not
/// finish within `timeout`. The request must make the peer close (HTTP
/// `Connection: close`, a Redis QUIT).
std::optional<std::string> loopbackRoundTrip(uint16_t port, const std::string& request,
                                             std::chrono::milliseconds timeout);

}  // namespace proxyos::testing
