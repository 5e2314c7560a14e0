#pragma once
// Helpers over hiredis shared by the client and the Sentinel query (internal
// to shared/redis).
#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

namespace proxyos::redis::detail {

inline timeval toTimeval(std::chrono::milliseconds d) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

/// Why a context failed, in words: a connect or I/O timeout (hiredis reports
/// SO_RCVTIMEO/SO_SNDTIMEO expiring as EAGAIN, a slow connect as ETIMEDOUT or
/// EINPROGRESS) becomes "timed out after N ms" with the timeout that applied.
inline std::string failureCause(const redisContext* c, std::chrono::milliseconds timeout) {
  if (c == nullptr || c->err == 0) return "connection lost";
  std::string cause = c->errstr;
  if (cause == std::strerror(EAGAIN) || cause == std::strerror(EWOULDBLOCK) || cause == std::strerror(ETIMEDOUT) ||
      cause == std::strerror(EINPROGRESS))
    cause = "timed out after " + std::to_string(timeout.count()) + " ms";
  return cause;
}

}  // namespace proxyos::redis::detail
