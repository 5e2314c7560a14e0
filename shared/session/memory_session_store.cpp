#include "shared/session/memory_session_store.h"

namespace proxyos::session {

Status MemorySessionStore::put(const Session& s, std::chrono::seconds ttl) {
  std::lock_guard lock(mu_);
  sessions_[s.id] = {s, clock_.now() + ttl};
  return okStatus();
}

Result<std::optional<Session>> MemorySessionStore::get(const std::string& id) {
  std::lock_guard lock(mu_);
  ++lookups_;
  auto it = sessions_.find(id);
  if (it == sessions_.end() || it->second.second <= clock_.now()) return std::optional<Session>{};
  return std::optional<Session>{it->second.first};
}

Status MemorySessionStore::revoke(const std::string& id, std::chrono::seconds remember) {
  std::lock_guard lock(mu_);
  sessions_.erase(id);
  revoked_[id] = clock_.now() + remember;
  return okStatus();
}

Result<bool> MemorySessionStore::wasRevoked(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = revoked_.find(id);
  return it != revoked_.end() && it->second > clock_.now();
}

Result<std::vector<Session>> MemorySessionStore::list() {
  std::lock_guard lock(mu_);
  std::vector<Session> out;
  for (const auto& [id, v] : sessions_)
    if (v.second > clock_.now()) out.push_back(v.first);
  return out;
}

}  // namespace proxyos::session
