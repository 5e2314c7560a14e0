#include "upstream_health.h"

#include <algorithm>

namespace proxyos::edge {

namespace {
std::int64_t ticks(Clock::MonoTime t) { return t.time_since_epoch().count(); }
}  // namespace

bool UpstreamHealth::available(Clock::MonoTime now) const {
  return heldUntil_.load(std::memory_order_relaxed) <= ticks(now);
}

Clock::MonoTime UpstreamHealth::heldUntil() const {
  return Clock::MonoTime(Clock::MonoTime::duration(heldUntil_.load(std::memory_order_relaxed)));
}

void UpstreamHealth::recordFailure(Clock::MonoTime now, std::chrono::milliseconds base, std::chrono::milliseconds max) {
  const std::uint32_t n = failures_.fetch_add(1, std::memory_order_relaxed) + 1;
  // base·2^(n-1) without overflow: stop doubling once the cap is reached.
  std::chrono::milliseconds backoff = base;
  for (std::uint32_t i = 1; i < n && backoff < max; ++i) backoff *= 2;
  backoff = std::min(backoff, max);
  const auto until = ticks(now + std::chrono::duration_cast<Clock::MonoTime::duration>(backoff));
  // Concurrent failures race harmlessly: the later deadline wins.
  auto cur = heldUntil_.load(std::memory_order_relaxed);
  while (cur < until && !heldUntil_.compare_exchange_weak(cur, until, std::memory_order_relaxed)) {
  }
}

void UpstreamHealth::recordSuccess() {
  if (failures_.load(std::memory_order_relaxed) == 0) return;
  failures_.store(0, std::memory_order_relaxed);
  heldUntil_.store(0, std::memory_order_relaxed);
}

}  // namespace proxyos::edge
