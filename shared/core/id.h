#pragma once
#include <string>
#include <string_view>

#include "shared/core/clock.h"

namespace proxyos {

/// A new resource id: 26 characters of Crockford base32 (lower case), 48 bits of
/// milliseconds then 80 random bits, so ids sort by creation time and are safe
/// in URLs and NATS KV keys.
std::string newId(const Clock& clock);

/// True when `s` has the shape newId() produces (used to validate path params).
bool isValidId(const std::string& s);

/// An X-Request-Id a client may choose: 1-64 characters of [A-Za-z0-9._:-].
/// Anything else (spaces, quotes, control bytes) could break log lines or
/// smuggle text into them, so it is replaced by a fresh id.
bool isValidRequestId(std::string_view id);

}  // namespace proxyos
