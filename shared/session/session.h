#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "shared/core/clock.h"
#include "shared/core/error.h"
#include "shared/session/role.h"

namespace proxyos::session {

/// A login session as kept in Redis at proxyos:session:<id>.
struct Session {
  std::string id;  // sessionId(token): SHA-256 hex of the token; safe to show and log
  std::string userId;
  std::string username;
  std::string email;
  std::vector<std::string> groups;
  Role role = Role::User;
  Clock::WallTime created{};
  Clock::WallTime lastSeen{};
  std::string clientIp;
  std::string userAgent;
  /// Linked sessions only (handoff.h): the dashboard session this one lives
  /// and dies with. "" for a session opened by a login. (The initializer keeps
  /// positional Session{...} without it free of -Wmissing-field-initializers.)
  std::string parentId{};
};

/// The public id of the session a token opens: hex SHA-256 of the token.
std::string sessionId(const std::string& token);

std::string encodeSession(const Session& s);
Result<Session> decodeSession(const std::string& json);

/// Idle 7 days, absolute 30 days, last-seen written at most once a minute (§3).
struct SessionPolicy {
  std::chrono::seconds idle{7 * 24 * 3600};
  std::chrono::seconds absolute{30 * 24 * 3600};
  std::chrono::seconds touchInterval{60};
  /// When the session ends if not used again.
  Clock::WallTime expiresAt(const Session& s) const;
};

/// Where sessions live. Production: Redis (RedisSessionStore); tests: MemorySessionStore.
/// Error kinds: Unavailable when the store cannot be reached.
class SessionStore {
 public:
  virtual ~SessionStore() = default;
  /// Writes the session with a time-to-live (the store forgets it after).
  virtual Status put(const Session& s, std::chrono::seconds ttl) = 0;
  /// nullopt when absent (expired, revoked or never existed).
  virtual Result<std::optional<Session>> get(const std::string& id) = 0;
  /// Deletes the session and remembers for `remember` that it was revoked.
  virtual Status revoke(const std::string& id, std::chrono::seconds remember) = 0;
  virtual Result<bool> wasRevoked(const std::string& id) = 0;
  virtual Result<std::vector<Session>> list() = 0;
};

}  // namespace proxyos::session
