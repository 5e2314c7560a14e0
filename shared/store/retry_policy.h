#pragma once
// Retrying a NATS operation through a JetStream leader election.
//
// When the node leading a stream dies, requests to that stream fail at once
// with NATS_NO_RESPONDERS for the 4-9 s the election takes (TOOLCHAIN.md,
// "Clustered NATS"). KvBucket retries through it with back-off, within a
// budget of about 10 s, before answering Unavailable (503).
//
// What may be retried is decided per operation (kv_bucket.cpp):
//   - reads: any Unavailable outcome (they change nothing);
//   - writes: only an outcome that proves the write did not happen
//     (writeProvedNotDone). A timed-out create() may have been stored: retried,
//     it would answer Conflict for the caller's own write, and a timed-out
//     update() would answer PreconditionFailed for it. Such an ambiguous
//     failure is answered 503 at once and the caller decides.
//
// Time is injected (STYLE.md): a Clock to measure the budget and a Sleeper to
// wait, so unit tests run the whole policy without sleeping.
#include <nats/nats.h>

#include <algorithm>
#include <chrono>

#include "shared/core/clock.h"
#include "shared/core/error.h"

namespace proxyos::store {

struct RetryPolicy {
  /// No new attempt starts once this much time has passed since the first.
  std::chrono::milliseconds budget{10000};
  std::chrono::milliseconds firstDelay{100};  // doubled after each failure...
  std::chrono::milliseconds maxDelay{1000};   // ...up to this
  /// A policy that never retries (e.g. a readiness probe must answer quickly).
  static RetryPolicy none() { return {std::chrono::milliseconds{0}, {}, {}}; }
};

/// Waits. Production: RealSleeper. Tests: a sleeper that advances a FakeClock.
class Sleeper {
 public:
  virtual ~Sleeper() = default;
  virtual void sleepFor(std::chrono::milliseconds d) = 0;
};

class RealSleeper final : public Sleeper {
 public:
  void sleepFor(std::chrono::milliseconds d) override;
  static RealSleeper& instance();
};

/// True when a failed JetStream publish (put, create, update, delete) proves
/// the message was not stored: the server answered that nothing listened on
/// the subject, i.e. no stream leader received it. Everything else, notably
/// NATS_TIMEOUT, leaves the outcome unknown.
bool writeProvedNotDone(natsStatus s);

/// One attempt at a write, as far as it got.
struct WriteAttempt {
  bool sent = false;             // the request left; else it failed before (binding the bucket)
  natsStatus status = NATS_OK;   // the request's outcome, once sent
};

/// Whether a failed write may be tried again: one that was sent only when it
/// provably did not happen; one that never left (the bucket could not be
/// bound) whenever NATS was merely unavailable.
bool mayRetryWrite(const WriteAttempt& attempt, const Error& error);

/// Whether a failed read may be tried again: whenever NATS was unavailable.
inline bool mayRetryRead(const Error& error) { return error.kind == ErrorKind::Unavailable; }

/// The back-off schedule of one operation: after each failed attempt, next()
/// says whether to try again and waits before answering yes.
class Backoff {
 public:
  Backoff(const RetryPolicy& policy, const Clock& clock, Sleeper& sleeper)
      : policy_(policy), clock_(clock), sleeper_(sleeper), start_(clock.monotonic()), delay_(policy.firstDelay) {}

  /// Waits the next delay and returns true, or returns false at once when
  /// the attempt after that delay would start beyond the budget.
  bool next() {
    const auto elapsed = clock_.monotonic() - start_;
    if (policy_.budget <= std::chrono::milliseconds::zero() || elapsed + delay_ > policy_.budget) return false;
    sleeper_.sleepFor(delay_);
    ++retries_;
    delay_ = std::min(delay_ * 2, policy_.maxDelay);
    return true;
  }
  int retries() const { return retries_; }
  std::chrono::milliseconds elapsed() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.monotonic() - start_);
  }

 private:
  const RetryPolicy& policy_;
  const Clock& clock_;
  Sleeper& sleeper_;
  const Clock::MonoTime start_;
  std::chrono::milliseconds delay_;
  int retries_ = 0;
};

/// Runs `attempt()` (-> Result<T> or Status) until it succeeds, fails in a
/// way `retryable(error)` rejects, or the budget is spent; returns the last
/// outcome. `retries`, when given, receives how many attempts were repeated.
template <class Attempt, class Retryable>
auto retrying(const RetryPolicy& policy, const Clock& clock, Sleeper& sleeper, Attempt&& attempt,
              Retryable&& retryable, int* retries = nullptr) -> decltype(attempt()) {
  Backoff backoff(policy, clock, sleeper);
  for (;;) {
    auto out = attempt();
    if (out.ok() || !retryable(out.error()) || !backoff.next()) {
      if (retries != nullptr) *retries = backoff.retries();
      return out;
    }
  }
}

}  // namespace proxyos::store
