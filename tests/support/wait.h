#pragma once
#include <chrono>
#include <functional>

namespace proxyos::testing {

/// Polls `pred` every `poll` until it returns true or `timeout` passes; returns
/// its last answer. The one place where tests may sleep: they wait for a
/// condition, never for a fixed time. `pred` is always checked at least once
/// and once more at the deadline.
bool waitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
               std::chrono::milliseconds poll = std::chrono::milliseconds(20));

}  // namespace proxyos::testing
