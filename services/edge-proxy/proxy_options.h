#pragma once
// Knobs and observation points of the data plane (ARCHITECTURE.md §2 steps 5
// and 6). Plain values: the edge app fills them from its config once, before
// ProxyServer starts; nothing here changes while requests run.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace proxyos::edge {

/// Limits and timeouts of one ProxyServer.
struct ProxyOptions {
  /// Resolve + TCP connect (+ TLS handshake for https upstreams).
  std::chrono::milliseconds connectTimeout{5000};
  /// From the last request byte sent to the upstream until its response head
  /// is complete; past it the client gets 504.
  std::chrono::milliseconds upstreamHeaderTimeout{60000};
  /// No byte moving for this long: an idle client keep-alive connection, a
  /// stalled body in either direction, a quiet tunnel, an idle pooled
  /// upstream connection.
  std::chrono::milliseconds idleTimeout{60000};
  /// From a request's first byte until its head is complete (slow-header
  /// clients are cut off).
  std::chrono::milliseconds clientHeaderTimeout{10000};
  /// Request head (request line + fields); larger → 431. Also bounds an
  /// upstream's response head (larger → 502).
  std::size_t maxHeaderBytes = 64 * 1024;
  /// Request body limit; 0 = unlimited (bodies are streamed, never held).
  std::uint64_t maxBodyBytes = 0;
  /// Back-off of an upstream after a transport failure: base·2^(n-1), capped.
  std::chrono::milliseconds backoffBase{1000};
  std::chrono::milliseconds backoffMax{30000};
  /// Idle keep-alive connections kept per upstream endpoint.
  std::size_t maxIdlePerUpstream = 64;
  /// Appended to Via in both directions.
  std::string via = "1.1 proxyos";
  /// Verify https upstreams' certificates against the system CAs and the
  /// upstream's host name. Off only for homelab upstreams with self-signed
  /// certificates.
  bool verifyUpstreamTls = true;
};

/// One line of the access log (ARCHITECTURE.md §2 step 6), handed to the
/// observer when a request is finished.
struct AccessRecord {
  std::string routeId;  // "" for the system route and for unmatched requests
  std::string requestId;  // X-Request-Id as sent upstream and returned to the client
  std::string host;     // as the client sent it
  std::string method;
  std::string path;                              // request target without the query (queries may carry secrets)
  std::string upstream;                          // "host:port" that answered; "" when none did
  int status = 0;                                // status sent to the client (0: connection closed before any)
  std::uint64_t bytesSent = 0;                   // body bytes sent to the client (tunnels: all bytes)
  std::chrono::microseconds upstreamLatency{0};  // pick → upstream response head
  std::chrono::microseconds totalLatency{0};     // request head read → response done
  std::string user;  // who the SSO step let through ("" without SSO, or when denied)
};

/// How an SSO check ended (STYLE.md: denied is not error).
enum class SsoOutcome { Allow, Deny, Error };

/// Receives access records. Called on the request's I/O thread (any of the
/// io_context's threads, concurrently): implementations must be thread-safe
/// and must not block. The record is handed over (the request is done with
/// it), so an observer that keeps it moves rather than copies its strings.
class ProxyObserver {
 public:
  virtual ~ProxyObserver() = default;
  virtual void onRequest(AccessRecord&& record) = 0;
  /// One SSO check of provider `providerId` (built-in ones included; a
  /// cached allow counts too, with the latency of the lookup).
  virtual void onSsoCheck(std::string_view providerId, SsoOutcome outcome, std::chrono::microseconds latency) {
    (void)providerId, (void)outcome, (void)latency;
  }
};

/// An observer that drops every record.
class NullProxyObserver final : public ProxyObserver {
 public:
  void onRequest(AccessRecord&&) override {}
};

}  // namespace proxyos::edge
