#pragma once
// Request ids (X-Request-Id), as Envoy and common nginx setups do them: one
// id per request, chosen at the edge, sent to the upstream, returned to the
// client and written to the access log, so one request can be followed
// through every log it touches.
#include <string>
#include <string_view>

#include "header_arena.h"
#include "shared/core/id.h"  // isValidRequestId

namespace proxyos::edge {

/// A fresh id, unique per process and, with overwhelming probability,
/// across processes: a random 64-bit prefix drawn once per process and a
/// counter, hex-encoded ("9f86d081884c7d65-1a2b"). No syscall or random
/// draw per call. Thread-safe.
std::string newRequestId();

/// The id for a request with these headers: the client's own when it sent
/// exactly one valid X-Request-Id, else a new one.
std::string requestIdFor(const Fields& headers);

/// "X-Request-Id".
inline constexpr std::string_view kRequestIdHeader = "X-Request-Id";

}  // namespace proxyos::edge
