#pragma once
// Login sessions in Redis (ARCHITECTURE.md §1, §3):
//   proxyos:session:<id>          encodeSession() JSON, with a TTL (EX)
//   proxyos:session-revoked:<id>  tombstone "1", kept `remember` after revoke()
//   proxyos:sessions              set of ids, so list() needs no SCAN
// <id> is sessionId(token), a SHA-256 hash: safe in keys and logs; the token
// itself never reaches Redis.
#include <chrono>
#include <string>

#include "shared/redis/redis_client.h"
#include "shared/session/session.h"

namespace proxyos::session {

/// SessionStore over a shared redis::Client. Every failure to talk to Redis
/// (connection down, timeout, an error reply) is ErrorKind::Unavailable, code
/// "session_store_unavailable", so callers fail closed. Thread-safe as the
/// client is; holds no state of its own.
class RedisSessionStore final : public SessionStore {
 public:
  explicit RedisSessionStore(redis::Client& client) : client_(client) {}

  /// Writes the session and indexes it. Refused (ErrorKind::Conflict, code
  /// "session_revoked") when the id has a revocation tombstone, so that a
  /// last-seen touch racing a revoke cannot bring the session back.
  Status put(const Session& s, std::chrono::seconds ttl) override;
  /// nullopt when the key is absent. A value that does not decode (or names
  /// another id) is ErrorKind::Internal, code "corrupt_session".
  Result<std::optional<Session>> get(const std::string& id) override;
  /// Tombstone, delete, unindex; then WAIT for one replica (at most
  /// kRevokeConfirmTimeout, and only when the primary has one), so that the
  /// revocation survives a failover. An unconfirmed revocation still succeeds
  /// (redis::Client logs and counts it).
  Status revoke(const std::string& id, std::chrono::seconds remember) override;
  Result<bool> wasRevoked(const std::string& id) override;
  /// Live sessions; ids whose key has expired are dropped from the index.
  /// Entries that do not decode are skipped (and logged by id).
  Result<std::vector<Session>> list() override;

  static std::string sessionKey(const std::string& id) { return "proxyos:session:" + id; }
  static std::string revokedKey(const std::string& id) { return "proxyos:session-revoked:" + id; }
  static constexpr const char* kIndexKey = "proxyos:sessions";
  static constexpr std::chrono::milliseconds kRevokeConfirmTimeout{1000};

 private:
  redis::Client& client_;
};

}  // namespace proxyos::session
