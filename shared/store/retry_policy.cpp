#include "shared/store/retry_policy.h"

#include <thread>

namespace proxyos::store {

void RealSleeper::sleepFor(std::chrono::milliseconds d) { std::this_thread::sleep_for(d); }

RealSleeper& RealSleeper::instance() {
  static RealSleeper sleeper;
  return sleeper;
}

bool writeProvedNotDone(natsStatus s) { return s == NATS_NO_RESPONDERS; }

bool mayRetryWrite(const WriteAttempt& attempt, const Error& error) {
  return attempt.sent ? writeProvedNotDone(attempt.status) : error.kind == ErrorKind::Unavailable;
}

}  // namespace proxyos::store
