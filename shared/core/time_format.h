#pragma once
#include <optional>
#include <string>

#include "shared/core/clock.h"

namespace proxyos {

/// RFC 3339 in UTC with milliseconds: 2026-01-01T00:00:00.000Z
std::string formatTime(Clock::WallTime t);
/// Parses what formatTime writes (and the same without fraction).
std::optional<Clock::WallTime> parseTime(const std::string& s);

}  // namespace proxyos
