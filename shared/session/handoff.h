#pragma once
// One login across root domains (ARCHITECTURE.md §3, issue #6): the
// one-time-code handoff that carries a dashboard session to a host the
// session cookie cannot reach (another root domain, or a host outside
// PROXYOS_COOKIE_DOMAIN).
//
//   1. The edge sends a browser without a session on such a host to
//      PROXYOS_URL/api/auth/handoff?rd=<original URL>&state=<handoffState(nonce)>,
//      having set a random nonce in a host-only cookie (kHandoffNonceCookie,
//      Path=kCallbackPath) on that host.
//   2. The auth service, seeing a valid dashboard session, issues a code:
//      Redis proxyos:handoff:<sha256hex(code)> = {"sessionId","host","rd","state"},
//      TTL 30 s, and redirects to <rd origin>/.proxyos/callback?code=<code>.
//      (No session yet: it redirects to PROXYOS_URL/login?rd=<this handoff URL>.)
//   3. The edge on that host redeems the code (GETDEL: single use), checks
//      that it was issued for this host and for this browser (the nonce
//      cookie hashes to the grant's state: a code obtained by someone else
//      cannot log a victim into their account — login CSRF), and creates a
//      *linked* session:
//      a new token whose session record names the dashboard session as its
//      parent. It sets that as a host-only proxyos_session cookie and
//      redirects to rd.
//   4. A linked session is valid only while its parent is (SessionVerifier
//      checks the parent), so one logout ends it on every host; the
//      proxyos.session.revoked event names the parent, and edges drop
//      verdicts of the parent and of its linked sessions.
//
// Neither the code nor any token is stored in Redis: only the code's hash
// and the session *id* (itself a hash), as for sessions.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "shared/core/clock.h"
#include "shared/core/error.h"
#include "shared/redis/redis_client.h"
#include "shared/session/session.h"
#include "shared/session/signing_keys.h"

namespace proxyos::session {

/// Where the edge answers the handoff, on every host with built-in SSO.
inline constexpr std::string_view kCallbackPath = "/.proxyos/callback";
/// The browser nonce of step 1: host-only, sent only to kCallbackPath.
inline constexpr std::string_view kHandoffNonceCookie = "proxyos_handoff";
/// The `state` a nonce stands for: lower-case hex SHA-256 (64 characters).
std::string handoffState(std::string_view nonce);
/// True for what handoffState() returns (64 lower-case hex digits).
bool isHandoffState(std::string_view state);

/// How long a code may wait to be redeemed.
inline constexpr std::chrono::seconds kHandoffTtl{30};

/// What a code stands for.
struct HandoffGrant {
  std::string sessionId;  // the dashboard session's id (sessionId(token)), never the token
  std::string host;       // lower-case host name of rd, without port: the only host that may redeem
  std::string rd;         // absolute URL to send the browser to afterwards (already checked by auth)
  std::string state;      // handoffState() of the nonce of the browser that started it
  bool operator==(const HandoffGrant&) const = default;
};

/// Where grants wait. Production: Redis; unit tests: memory.
/// Errors: ErrorKind::Unavailable, code "session_store_unavailable", when the
/// store cannot be reached.
class HandoffStore {
 public:
  virtual ~HandoffStore() = default;
  /// Stores `grant` under a new random code (32 bytes, base64url) for `ttl`;
  /// returns the code.
  virtual Result<std::string> issue(const HandoffGrant& grant, std::chrono::seconds ttl) = 0;
  /// Takes the grant of `code` out of the store, atomically: a second redeem
  /// of the same code finds nothing. nullopt for an unknown, used or expired
  /// code (and for a malformed one, without asking the store).
  virtual Result<std::optional<HandoffGrant>> redeem(std::string_view code) = 0;
};

/// proxyos:handoff:<sha256hex(code)> with SET EX and GETDEL (Redis >= 6.2).
class RedisHandoffStore final : public HandoffStore {
 public:
  explicit RedisHandoffStore(redis::Client& client) : client_(client) {}
  Result<std::string> issue(const HandoffGrant& grant, std::chrono::seconds ttl) override;
  Result<std::optional<HandoffGrant>> redeem(std::string_view code) override;
  static std::string key(std::string_view code);

 private:
  redis::Client& client_;
};

/// In memory, with a Clock for expiry. Thread-safe.
class MemoryHandoffStore final : public HandoffStore {
 public:
  explicit MemoryHandoffStore(const Clock& clock);
  ~MemoryHandoffStore() override;
  Result<std::string> issue(const HandoffGrant& grant, std::chrono::seconds ttl) override;
  Result<std::optional<HandoffGrant>> redeem(std::string_view code) override;

 private:
  struct State;
  const Clock& clock_;
  std::unique_ptr<State> state_;
};

/// The edge's half of step 3, on its worker thread (blocking store calls).
struct HandoffResult {
  enum class Outcome {
    Ok,               // `cookieValue` and `rd` are set
    Refused,          // unknown, used or expired code, or issued for another host
    SessionEnded,     // the code was good but the dashboard session is gone
    StoreUnavailable, // Redis down: fail closed
  };
  Outcome outcome = Outcome::Refused;
  std::string cookieValue;  // proxyos_session value of the linked session (host-only cookie)
  std::string rd;
  Session session;          // the linked session, when Ok
};

/// Redeems `code` for `host` (lower-case, no port): the grant must name that
/// host and handoffState(`nonce`) must equal its (non-empty) state; its parent session must be live (SessionStore::get); then a linked
/// Session (new token, new id, parentId = the parent's id, same user, email,
/// groups and role, created/lastSeen = now, clientIp/userAgent as given) is
/// put with the parent's remaining TTL, and its cookie signed with `keys`.
HandoffResult redeemHandoff(HandoffStore& handoffs, SessionStore& sessions, const SigningKeys& keys,
                            const Clock& clock, const SessionPolicy& policy, std::string_view code,
                            std::string_view host, std::string_view nonce, std::string_view clientIp,
                            std::string_view userAgent);

}  // namespace proxyos::session
