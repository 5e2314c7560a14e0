#include "shared/session/login_rate_limiter.h"

#include <algorithm>
#include <charconv>

#include "shared/crypto/sha256.h"

namespace proxyos::session {

namespace {

using redis::Reply;

Error unavailable(const std::string& what, const std::string& detail) {
  return Error::make(ErrorKind::Unavailable, "rate_limiter_unavailable", "login rate limiter: " + what + ": " + detail);
}

Result<std::vector<Reply>> runPipeline(redis::Client& client, const std::vector<std::vector<std::string>>& cmds,
                                       const std::string& what) {
  auto replies = client.pipelineAll(cmds);
  if (!replies) return unavailable(what, replies.error().message);
  return std::move(replies).value();
}

// A counter as MGET returns it: nil (no failures in this window) or the
// decimal text INCR wrote.
Result<long long> counterValue(const Reply& r) {
  if (r.isNil()) return 0LL;
  long long v = 0;
  const char* end = r.str.data() + r.str.size();
  if (r.type != Reply::Type::String || r.str.empty() || std::from_chars(r.str.data(), end, v).ptr != end)
    return unavailable("check", "counter is not an integer");
  return v;
}

std::string asciiLower(std::string s) {
  // ASCII only, locale-independent: the same name must map to the same key on
  // every replica whatever its locale.
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

}  // namespace

std::string loginRateUserKey(const std::string& username) {
  return "proxyos:ratelimit:login:user:" + crypto::sha256Hex(asciiLower(username));
}

std::string loginRateIpKey(const std::string& ip) { return "proxyos:ratelimit:login:ip:" + ip; }

Result<RateDecision> RedisLoginRateLimiter::check(const std::string& username, const std::string& ip) {
  const std::string userKey = loginRateUserKey(username), ipKey = loginRateIpKey(ip);
  // One round trip: the TTLs are only needed when refusing, but asking for
  // them always is cheaper than a second trip.
  auto replies = runPipeline(client_, {{"MGET", userKey, ipKey}, {"TTL", userKey}, {"TTL", ipKey}}, "check");
  if (!replies) return replies.error();
  const auto& counts = replies.value()[0];
  if (counts.type != Reply::Type::Array || counts.elements.size() != 2)
    return unavailable("check", "unexpected reply to MGET");
  auto userCount = counterValue(counts.elements[0]);
  if (!userCount) return userCount.error();
  auto ipCount = counterValue(counts.elements[1]);
  if (!ipCount) return ipCount.error();

  RateDecision d;
  const struct {
    bool over;
    const std::string& key;
    const Reply& ttl;
  } limits[] = {{userCount.value() >= limits_.perUsername, userKey, replies.value()[1]},
                {ipCount.value() >= limits_.perIp, ipKey, replies.value()[2]}};
  for (const auto& l : limits) {
    if (!l.over) continue;
    d.allowed = false;
    std::chrono::seconds wait{l.ttl.integer};
    if (l.ttl.integer == -1) {
      // A counter without expiry (its EXPIRE was lost with the connection)
      // would lock the key out for good: give it a window now.
      if (auto fix = runPipeline(client_, {{"EXPIRE", l.key, std::to_string(limits_.window.count()), "NX"}}, "check");
          !fix)
        return fix.error();
      wait = limits_.window;
    }
    // -2 (expired since the MGET) and a TTL rounded down to 0 still mean "not yet".
    d.retryAfter = std::max({d.retryAfter, wait, std::chrono::seconds{1}});
  }
  return d;
}

Status RedisLoginRateLimiter::recordFailure(const std::string& username, const std::string& ip) {
  const std::string userKey = loginRateUserKey(username), ipKey = loginRateIpKey(ip);
  const std::string window = std::to_string(std::max<long long>(limits_.window.count(), 1));
  // EXPIRE ... NX sets the expiry only when the key has none, i.e. when INCR
  // just created it: the window is fixed from the first failure, and later
  // failures do not push it back. Being idempotent, it also repairs a counter
  // whose EXPIRE was lost, which "EXPIRE only if INCR returned 1" would not.
  auto replies = runPipeline(client_,
                             {{"INCR", userKey},
                              {"EXPIRE", userKey, window, "NX"},
                              {"INCR", ipKey},
                              {"EXPIRE", ipKey, window, "NX"}},
                             "recordFailure");
  if (!replies) return replies.error();
  return okStatus();
}

int MemoryLoginRateLimiter::countLocked(const std::string& key, Clock::MonoTime now) {
  auto it = windows_.find(key);
  if (it == windows_.end()) return 0;
  if (it->second.end <= now) {
    windows_.erase(it);
    return 0;
  }
  return it->second.count;
}

void MemoryLoginRateLimiter::bumpLocked(const std::string& key, Clock::MonoTime now) {
  if (countLocked(key, now) == 0) {
    windows_[key] = {1, now + limits_.window};
    return;
  }
  ++windows_[key].count;
}

std::chrono::seconds MemoryLoginRateLimiter::remainingLocked(const std::string& key, Clock::MonoTime now) const {
  auto it = windows_.find(key);
  // No window yet only when the limit is 0 or less: refused, as in Redis.
  if (it == windows_.end()) return std::chrono::seconds{1};
  const auto left = it->second.end - now;
  // Round up, as Retry-After in whole seconds must not invite an early retry.
  auto secs = std::chrono::ceil<std::chrono::seconds>(left);
  return std::max(secs, std::chrono::seconds{1});
}

Result<RateDecision> MemoryLoginRateLimiter::check(const std::string& username, const std::string& ip) {
  std::lock_guard lock(mu_);
  const auto now = clock_.monotonic();
  const std::string userKey = loginRateUserKey(username), ipKey = loginRateIpKey(ip);
  RateDecision d;
  if (countLocked(userKey, now) >= limits_.perUsername) {
    d.allowed = false;
    d.retryAfter = std::max(d.retryAfter, remainingLocked(userKey, now));
  }
  if (countLocked(ipKey, now) >= limits_.perIp) {
    d.allowed = false;
    d.retryAfter = std::max(d.retryAfter, remainingLocked(ipKey, now));
  }
  return d;
}

Status MemoryLoginRateLimiter::recordFailure(const std::string& username, const std::string& ip) {
  std::lock_guard lock(mu_);
  const auto now = clock_.monotonic();
  bumpLocked(loginRateUserKey(username), now);
  bumpLocked(loginRateIpKey(ip), now);
  return okStatus();
}

}  // namespace proxyos::session
