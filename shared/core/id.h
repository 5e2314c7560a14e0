#pragma once
#include <string>

#include "shared/core/clock.h"

namespace proxyos {

/// A new resource id: 26 characters of Crockford base32 (lower case), 48 bits of
/// milliseconds then 80 random bits, so ids sort by creation time and are safe
/// in URLs and NATS KV keys.
std::string newId(const Clock& clock);

/// True when `s` has the shape newId() produces (used to validate path params).
bool isValidId(const std::string& s);

}  // namespace proxyos
