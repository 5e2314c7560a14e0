// The retry rule of shared/store (retry_policy.h), run on a FakeClock: what a
// NATS leader election looks like to a writer, without sleeping.
#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "shared/core/clock.h"
#include "shared/store/retry_policy.h"

namespace proxyos::store {
namespace {

using namespace std::chrono_literals;

/// Sleeping moves the fake clock; every wait is recorded.
class FakeSleeper final : public Sleeper {
 public:
  explicit FakeSleeper(FakeClock& clock) : clock_(clock) {}
  void sleepFor(std::chrono::milliseconds d) override {
    waits.push_back(d);
    clock_.advance(d);
  }
  std::chrono::milliseconds total() const {
    std::chrono::milliseconds sum{0};
    for (auto w : waits) sum += w;
    return sum;
  }
  std::vector<std::chrono::milliseconds> waits;

 private:
  FakeClock& clock_;
};

Error unavailable() { return Error::make(ErrorKind::Unavailable, "nats_unavailable", "NATS unavailable"); }

class RetryPolicyTest : public ::testing::Test {
 protected:
  FakeClock clock;
  FakeSleeper sleeper{clock};
  RetryPolicy policy;  // the defaults: 10 s budget, 100 ms doubling to 1 s
};

TEST_F(RetryPolicyTest, BackOffDoublesUpToTheMaximumAndStopsWithinTheBudget) {
  Backoff backoff(policy, clock, sleeper);
  while (backoff.next()) {
  }
  const std::vector<std::chrono::milliseconds> expected{100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms, 1000ms, 1000ms,
                                                        1000ms, 1000ms, 1000ms, 1000ms};
  EXPECT_EQ(sleeper.waits, expected);
  EXPECT_EQ(backoff.retries(), 12);
  EXPECT_LE(sleeper.total(), policy.budget) << "no attempt starts after the budget";
  EXPECT_GT(sleeper.total() + 1000ms, policy.budget) << "the budget is used, not given up early";
}

TEST_F(RetryPolicyTest, AWriteRejectedForNoRespondersIsRetriedThroughAnElectionOf9Seconds) {
  // The election ends 9 s after the leader died: until then every write is
  // refused with NATS_NO_RESPONDERS (TOOLCHAIN.md).
  const auto electedAt = clock.monotonic() + 9s;
  int attempts = 0;
  WriteAttempt last;
  auto attempt = [&]() -> Result<uint64_t> {
    ++attempts;
    last = WriteAttempt{true, clock.monotonic() < electedAt ? NATS_NO_RESPONDERS : NATS_OK};
    if (last.status != NATS_OK) return unavailable();
    return uint64_t{42};
  };
  int retries = 0;
  auto out = retrying(policy, clock, sleeper, attempt, [&](const Error& e) { return mayRetryWrite(last, e); },
                      &retries);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out.value(), 42u);
  EXPECT_EQ(retries, attempts - 1);
  EXPECT_GE(clock.monotonic(), electedAt);
}

TEST_F(RetryPolicyTest, AnElectionLongerThanTheBudgetEndsInUnavailable) {
  int attempts = 0;
  WriteAttempt last;
  auto attempt = [&]() -> Status {
    ++attempts;
    last = WriteAttempt{true, NATS_NO_RESPONDERS};
    return unavailable();
  };
  auto out = retrying(policy, clock, sleeper, attempt, [&](const Error& e) { return mayRetryWrite(last, e); });
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().kind, ErrorKind::Unavailable);
  EXPECT_EQ(attempts, 13);
  EXPECT_LE(sleeper.total(), 10s);
}

TEST_F(RetryPolicyTest, ATimedOutWriteIsNeverRetried) {
  // It may have been stored: a retry of a create would answer Conflict for
  // the caller's own write, a retry of an update PreconditionFailed.
  int attempts = 0;
  WriteAttempt last;
  auto attempt = [&]() -> Result<uint64_t> {
    ++attempts;
    last = WriteAttempt{true, NATS_TIMEOUT};
    return unavailable();
  };
  auto out = retrying(policy, clock, sleeper, attempt, [&](const Error& e) { return mayRetryWrite(last, e); });
  EXPECT_FALSE(out.ok());
  EXPECT_EQ(attempts, 1);
  EXPECT_TRUE(sleeper.waits.empty());
}

TEST_F(RetryPolicyTest, WhichWriteOutcomesProveNothingWasWritten) {
  EXPECT_TRUE(writeProvedNotDone(NATS_NO_RESPONDERS));
  for (natsStatus s : {NATS_TIMEOUT, NATS_ERR, NATS_CONNECTION_CLOSED, NATS_CONNECTION_DISCONNECTED, NATS_IO_ERROR,
                       NATS_NOT_YET_CONNECTED, NATS_STALE_CONNECTION})
    EXPECT_FALSE(writeProvedNotDone(s)) << natsStatus_GetText(s);
  // A request that never left (binding the bucket failed) may be retried
  // while NATS is unavailable, but not for other errors.
  EXPECT_TRUE(mayRetryWrite(WriteAttempt{false, NATS_OK}, unavailable()));
  EXPECT_FALSE(mayRetryWrite(WriteAttempt{false, NATS_OK}, Error::make(ErrorKind::Internal, "x", "x")));
  EXPECT_FALSE(mayRetryWrite(WriteAttempt{true, NATS_TIMEOUT}, unavailable()));
  EXPECT_TRUE(mayRetryWrite(WriteAttempt{true, NATS_NO_RESPONDERS}, unavailable()));
}

TEST_F(RetryPolicyTest, ConflictsAndLostCompareAndSetsAreAnswersNotFailures) {
  for (ErrorKind kind : {ErrorKind::Conflict, ErrorKind::PreconditionFailed, ErrorKind::NotFound}) {
    int attempts = 0;
    auto attempt = [&]() -> Status {
      ++attempts;
      return Error::make(kind, "x", "x");
    };
    EXPECT_FALSE(retrying(policy, clock, sleeper, attempt, mayRetryRead).ok());
    EXPECT_EQ(attempts, 1);
  }
}

TEST_F(RetryPolicyTest, ReadsAreRetriedOnAnyUnavailableOutcome) {
  int attempts = 0;
  auto attempt = [&]() -> Result<int> {
    if (++attempts < 4) return unavailable();  // timeouts included: a read changes nothing
    return 7;
  };
  auto out = retrying(policy, clock, sleeper, attempt, mayRetryRead);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(attempts, 4);
  EXPECT_EQ(sleeper.total(), 700ms);
}

TEST_F(RetryPolicyTest, PolicyNoneNeverRetries) {
  int attempts = 0;
  auto attempt = [&]() -> Status {
    ++attempts;
    return unavailable();
  };
  EXPECT_FALSE(retrying(RetryPolicy::none(), clock, sleeper, attempt, mayRetryRead).ok());
  EXPECT_EQ(attempts, 1);
}

}  // namespace
}  // namespace proxyos::store
