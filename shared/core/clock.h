#pragma once
// Time is injected: expiry, back-off and rate limits read a Clock, never the
// system clock directly, so tests move time with FakeClock instead of sleeping.
#include <atomic>
#include <chrono>
#include <mutex>

namespace proxyos {

class Clock {
 public:
  using WallTime = std::chrono::system_clock::time_point;
  using MonoTime = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  /// Wall-clock time (timestamps, expiry that survives restarts).
  virtual WallTime now() const = 0;
  /// Monotonic time (timeouts, latencies, back-off).
  virtual MonoTime monotonic() const = 0;
};

class SystemClock final : public Clock {
 public:
  WallTime now() const override;
  MonoTime monotonic() const override;
  /// A process-wide instance for production wiring.
  static const SystemClock& instance();
};

/// Starts at a fixed instant; moves only when told. Thread-safe.
class FakeClock final : public Clock {
 public:
  FakeClock();
  WallTime now() const override;
  MonoTime monotonic() const override;
  void advance(std::chrono::nanoseconds d);
  void set(WallTime t);

 private:
  mutable std::mutex mu_;
  WallTime wall_;
  MonoTime mono_;
};

}  // namespace proxyos
