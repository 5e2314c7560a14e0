#include "shared/core/clock.h"

namespace proxyos {

Clock::WallTime SystemClock::now() const { return std::chrono::system_clock::now(); }
Clock::MonoTime SystemClock::monotonic() const { return std::chrono::steady_clock::now(); }
const SystemClock& SystemClock::instance() {
  static const SystemClock clock;
  return clock;
}

// 2026-01-01T00:00:00Z: a fixed, readable epoch for tests.
FakeClock::FakeClock() : wall_(std::chrono::sys_seconds{std::chrono::seconds{1767225600}}), mono_() {}
Clock::WallTime FakeClock::now() const {
  std::lock_guard lock(mu_);
  return wall_;
}
Clock::MonoTime FakeClock::monotonic() const {
  std::lock_guard lock(mu_);
  return mono_;
}
void FakeClock::advance(std::chrono::nanoseconds d) {
  std::lock_guard lock(mu_);
  wall_ += std::chrono::duration_cast<WallTime::duration>(d);
  mono_ += std::chrono::duration_cast<MonoTime::duration>(d);
}
void FakeClock::set(WallTime t) {
  std::lock_guard lock(mu_);
  wall_ = t;
}

}  // namespace proxyos
