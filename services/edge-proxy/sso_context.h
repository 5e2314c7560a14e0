#pragma once
// What the data plane's SSO step shares across connections
// (ARCHITECTURE.md §2 step 4, §3): the built-in provider's session verdicts
// (cached ≤ 2 s, dropped on proxyos.session.revoked), the worker threads
// that talk to Redis, and the opt-in allow cache of external providers.
//
// Threading: request coroutines read and fill the caches from any I/O
// thread (each cache is one small mutex around a hash map); blocking store
// calls (Redis) never run on an I/O thread: they go to `workers`, and the
// awaiting coroutine resumes on its own strand.
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "shared/core/clock.h"
#include "shared/redis/redis_client.h"
#include "shared/session/handoff.h"
#include "shared/session/redis_session_store.h"
#include "shared/session/session_verifier.h"
#include "shared/session/signing_keys.h"

namespace proxyos::edge {

/// The built-in provider's answer for one proxyos_session cookie value.
struct SessionVerdict {
  enum class Kind {
    Valid,
    Invalid,      // no session: missing, forged, expired, revoked
    Unavailable,  // the store (Redis) could not be asked: fail closed
  };
  Kind kind = Kind::Invalid;
  std::string reason;     // Verification::reason(), for logs
  std::string sessionId;  // Valid: safe to log (a hash)
  std::string parentId;   // Valid: the dashboard session a linked session hangs on ("" if none)
  std::string username;
  std::string email;
  std::vector<std::string> groups;
  session::Role role = session::Role::User;  // Valid: whether it may read the dashboard's APIs
};

/// Blocking session operations; called on SsoContext's worker threads only.
/// Production: RedisSessionAuthority; tests may pass their own.
class SessionAuthority {
 public:
  virtual ~SessionAuthority() = default;
  virtual SessionVerdict verify(std::string_view cookieValue) = 0;
  virtual session::HandoffResult redeem(std::string_view code, std::string_view host, std::string_view nonce,
                                        std::string_view clientIp, std::string_view userAgent) = 0;
};

/// SessionVerifier over Redis (MAC first: a forged cookie never reaches
/// Redis), plus the handoff redemption of shared/session/handoff.h.
class RedisSessionAuthority final : public SessionAuthority {
 public:
  RedisSessionAuthority(redis::ClientOptions redis, session::SigningKeys keys, const Clock& clock,
                        session::SessionPolicy policy = {});
  SessionVerdict verify(std::string_view cookieValue) override;
  session::HandoffResult redeem(std::string_view code, std::string_view host, std::string_view nonce,
                                std::string_view clientIp, std::string_view userAgent) override;

 private:
  redis::Client client_;
  session::SigningKeys keys_;
  const Clock& clock_;
  session::SessionPolicy policy_;
  session::RedisSessionStore sessions_;
  session::RedisHandoffStore handoffs_;
  session::SessionVerifier verifier_;
};

/// Verdicts by cookie value, each kept `ttl`. Thread-safe.
///
/// A Valid verdict is also kept `staleGrace` beyond its ttl, for one use
/// only: lastValid(), when Redis cannot be asked (a Sentinel failover takes
/// seconds). A session the edge saw valid moments ago keeps working through
/// it; one it never saw still fails closed. Revocations drop the entry as
/// ever (they arrive over NATS, and none can be written while Redis is down).
///
/// Revocation race: a lookup that started before a revocation may finish
/// after it with a Valid verdict read from Redis before the revoke. store()
/// therefore refuses a verdict when any revocation happened since the
/// lookup began (`generation()` taken then): the next request asks again.
class SessionVerdicts {
 public:
  SessionVerdicts(const Clock& clock, std::chrono::milliseconds ttl, std::size_t maxEntries,
                  std::chrono::milliseconds staleGrace = std::chrono::milliseconds{0});

  /// The verdict while it is fresh (within its ttl).
  std::shared_ptr<const SessionVerdict> find(std::string_view cookieValue);
  /// The last Valid verdict of this cookie, fresh or up to `staleGrace` past
  /// its ttl; nullptr otherwise. Only for when Redis cannot be asked.
  std::shared_ptr<const SessionVerdict> lastValid(std::string_view cookieValue);
  /// Unavailable verdicts are never stored.
  void store(std::string_view cookieValue, std::shared_ptr<const SessionVerdict> verdict, std::uint64_t generation);
  /// Drops the verdicts of session `id` and of sessions linked to it.
  void revoke(std::string_view id);
  std::uint64_t generation() const;
  std::size_t size() const;

 private:
  struct Entry {
    std::shared_ptr<const SessionVerdict> verdict;
    Clock::MonoTime expires;
    Clock::MonoTime staleUntil;  // == expires unless Valid
  };
  // Looked up by the cookie's view: no string copy per request.
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  const Clock& clock_;
  const std::chrono::milliseconds ttl_;
  const std::size_t maxEntries_;
  const std::chrono::milliseconds staleGrace_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry, StringHash, std::equal_to<>> entries_;
  std::uint64_t generation_ = 0;
};

/// The provider's identity for an allowed request, as cached.
struct CachedAllow {
  std::vector<std::pair<std::string, std::string>> identity;
  std::string groups;
};

/// Opt-in allow cache of external providers (cacheTtlSeconds > 0): keyed by
/// provider id and SHA-256 of the request's Cookie and Authorization, so no
/// credential is kept in memory. Only allows are stored. Thread-safe.
class AllowCache {
 public:
  AllowCache(const Clock& clock, std::size_t maxEntries);
  static std::string key(std::string_view providerId, std::string_view cookie, std::string_view authorization);
  std::shared_ptr<const CachedAllow> find(const std::string& key);
  void store(std::string key, std::shared_ptr<const CachedAllow> allow, std::chrono::seconds ttl);

 private:
  struct Entry {
    std::shared_ptr<const CachedAllow> allow;
    Clock::MonoTime expires;
  };
  const Clock& clock_;
  const std::size_t maxEntries_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

/// Where the built-in provider sends browsers and how it sets cookies.
struct SsoSettings {
  std::string publicOrigin;   // PROXYOS_URL's origin ("https://proxyos.example.com")
  std::string publicHost;     // PROXYOS_URL's host
  std::string cookieDomain;   // PROXYOS_COOKIE_DOMAIN ("" = none)
  std::chrono::seconds cookieMaxAge{30 * 24 * 3600};
  std::chrono::milliseconds verdictTtl{2000};
  /// How long past verdictTtl a Valid verdict still serves while Redis
  /// cannot be asked (SessionVerdicts::lastValid): a Sentinel failover with
  /// deploy/redis/sentinel.conf's down-after 3 s takes about 5 s.
  std::chrono::milliseconds verdictStaleGrace{30000};
};

/// Runs the blocking `fn` on `pool` and resumes the awaiting coroutine on
/// `home` (its own executor) with the result: the job never runs on an I/O
/// thread, and the coroutine is never resumed on a worker.
///
/// Not a coroutine: `fn` is moved once into a heap job and nothing of it
/// lives in a coroutine frame. Callers must build the awaitable in a
/// statement of its own and then co_await it: with GCC 12, passing the
/// closure as a temporary inside the co_await expression (first with
/// co_spawn, then with a coroutine version of this function) corrupted the
/// closure's std::string under concurrent cache misses (free(): invalid
/// pointer; reproduced by sso_builtin_edge_test), and building it first
/// does not.
template <class T, class Fn>
boost::asio::awaitable<T> runOnWorkers(boost::asio::thread_pool& pool, const boost::asio::any_io_executor& home,
                                       Fn fn) {
  struct Job {
    Fn fn;
    boost::asio::any_io_executor home;
    boost::asio::thread_pool* pool;
  };
  Job* job = new Job{std::move(fn), home, &pool};
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(T)>(
      [job](auto handler) {
        boost::asio::post(*job->pool, [job, handler = std::move(handler)]() mutable {
          auto result = std::make_unique<T>(job->fn());
          const auto home = job->home;
          delete job;
          boost::asio::post(home, [result = std::move(result), handler = std::move(handler)]() mutable {
            std::move(handler)(std::move(*result));
          });
        });
      },
      boost::asio::use_awaitable);
}

/// Everything above, owned by the edge app; outlives the ProxyServer.
class SsoContext {
 public:
  SsoContext(SessionAuthority& authority, const Clock& clock, SsoSettings settings, int workerThreads = 2);
  ~SsoContext();
  SsoContext(const SsoContext&) = delete;
  SsoContext& operator=(const SsoContext&) = delete;

  /// True when `host` (lower-case, no port) receives the dashboard's
  /// cookie: the dashboard's own host, or one under PROXYOS_COOKIE_DOMAIN.
  bool cookieReaches(std::string_view host) const;

  SessionAuthority& authority;
  const SsoSettings settings;
  SessionVerdicts verdicts;
  AllowCache allows;
  boost::asio::thread_pool workers;
};

}  // namespace proxyos::edge
