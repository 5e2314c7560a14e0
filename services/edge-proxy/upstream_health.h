#pragma once
// Passive health of one upstream endpoint: after a transport failure
// (connect refused or timed out, connection reset before a response head,
// response head timeout) the endpoint is held out for a back-off period that
// doubles with each consecutive failure, up to a cap; the first success
// clears it. 5xx responses are answers, not failures: they never hold an
// endpoint out.
#include <atomic>
#include <chrono>
#include <cstdint>

#include "shared/core/clock.h"

namespace proxyos::edge {

/// Lock-free: read on every pick by any thread; written on failures and on
/// the first success after one (a success when healthy is a load only, so
/// healthy traffic does not bounce the cache line between cores).
class UpstreamHealth {
 public:
  /// Not held out at `now`.
  bool available(Clock::MonoTime now) const;
  /// When the current hold-out ends (epoch when none).
  Clock::MonoTime heldUntil() const;
  std::uint32_t consecutiveFailures() const { return failures_.load(std::memory_order_relaxed); }

  /// Holds the endpoint out until now + min(base·2^(n-1), max) for the n-th
  /// consecutive failure.
  void recordFailure(Clock::MonoTime now, std::chrono::milliseconds base, std::chrono::milliseconds max);
  void recordSuccess();

 private:
  std::atomic<std::int64_t> heldUntil_{0};  // MonoTime ticks since its epoch; 0 = never held out
  std::atomic<std::uint32_t> failures_{0};
};

}  // namespace proxyos::edge
