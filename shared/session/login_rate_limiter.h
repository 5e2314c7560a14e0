#pragma once
// Login rate limiting per username and per client IP (ARCHITECTURE.md §3:
// 429 with Retry-After). Fixed windows: the first failure of a key opens a
// window of `window`; while a key holds `limit` failures, logins are refused
// until the window ends. Only failures count, and a successful login does not
// reset anything: otherwise an attacker could clear an IP's counter by logging
// into his own account from it between guesses.
#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "shared/core/clock.h"
#include "shared/core/error.h"
#include "shared/redis/redis_client.h"

namespace proxyos::session {

struct RateDecision {
  bool allowed = true;
  std::chrono::seconds retryAfter{0};  // >= 1 s when refused; 0 when allowed
};

struct RateLimits {
  int perUsername = 10;
  int perIp = 100;
  std::chrono::seconds window{900};
};

/// Redis key of the failure counter for a username: lower-cased (so "Alice"
/// and "alice" share a budget), then SHA-256 hex, so any characters are safe
/// in the key and the username does not appear in Redis.
std::string loginRateUserKey(const std::string& username);
/// Redis key of the failure counter for a client IP.
std::string loginRateIpKey(const std::string& ip);

/// Decides whether a login attempt may proceed. The caller checks before
/// verifying the password and records a failure after a wrong one.
/// An error (ErrorKind::Unavailable) means "cannot tell": refuse (fail closed).
class LoginRateLimiter {
 public:
  virtual ~LoginRateLimiter() = default;
  virtual Result<RateDecision> check(const std::string& username, const std::string& ip) = 0;
  virtual Status recordFailure(const std::string& username, const std::string& ip) = 0;
};

/// Counters in Redis, shared by every auth replica. Errors are
/// ErrorKind::Unavailable, code "rate_limiter_unavailable". Needs Redis >= 7.0
/// (EXPIRE ... NX).
class RedisLoginRateLimiter final : public LoginRateLimiter {
 public:
  RedisLoginRateLimiter(redis::Client& client, RateLimits limits) : client_(client), limits_(limits) {}
  Result<RateDecision> check(const std::string& username, const std::string& ip) override;
  Status recordFailure(const std::string& username, const std::string& ip) override;

 private:
  redis::Client& client_;
  RateLimits limits_;
};

/// The same fixed windows in process memory, timed by an injected Clock
/// (monotonic time), for unit tests. Never errs. Expired entries are dropped
/// when touched, not swept: meant for tests, not for unbounded key sets.
class MemoryLoginRateLimiter final : public LoginRateLimiter {
 public:
  MemoryLoginRateLimiter(const Clock& clock, RateLimits limits) : clock_(clock), limits_(limits) {}
  Result<RateDecision> check(const std::string& username, const std::string& ip) override;
  Status recordFailure(const std::string& username, const std::string& ip) override;

 private:
  struct Window {
    int count = 0;
    Clock::MonoTime end{};
  };
  int countLocked(const std::string& key, Clock::MonoTime now);
  void bumpLocked(const std::string& key, Clock::MonoTime now);
  std::chrono::seconds remainingLocked(const std::string& key, Clock::MonoTime now) const;

  const Clock& clock_;
  RateLimits limits_;
  std::mutex mu_;
  std::map<std::string, Window> windows_;  // guarded by mu_; key as in Redis
};

}  // namespace proxyos::session
