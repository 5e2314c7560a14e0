#pragma once
#include <map>
#include <mutex>

#include "shared/session/session.h"

namespace proxyos::session {

/// SessionStore in memory, expiring by an injected Clock; counts lookups so
/// tests can prove a forged cookie never reaches the store.
class MemorySessionStore final : public SessionStore {
 public:
  explicit MemorySessionStore(const Clock& clock) : clock_(clock) {}
  Status put(const Session& s, std::chrono::seconds ttl) override;
  Result<std::optional<Session>> get(const std::string& id) override;
  Status revoke(const std::string& id, std::chrono::seconds remember) override;
  Result<bool> wasRevoked(const std::string& id) override;
  Result<std::vector<Session>> list() override;
  int lookups() const { return lookups_; }

 private:
  const Clock& clock_;
  std::mutex mu_;
  std::map<std::string, std::pair<Session, Clock::WallTime>> sessions_;  // id -> (session, expiry)
  std::map<std::string, Clock::WallTime> revoked_;
  int lookups_ = 0;
};

}  // namespace proxyos::session
