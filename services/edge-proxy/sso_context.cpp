#include "sso_context.h"

#include "shared/crypto/sha256.h"

namespace proxyos::edge {

RedisSessionAuthority::RedisSessionAuthority(redis::ClientOptions redis, session::SigningKeys keys,
                                             const Clock& clock, session::SessionPolicy policy)
    : client_(std::move(redis)),
      keys_(std::move(keys)),
      clock_(clock),
      policy_(policy),
      sessions_(client_),
      handoffs_(client_),
      verifier_(keys_, sessions_, clock_, policy_) {}

SessionVerdict RedisSessionAuthority::verify(std::string_view cookieValue) {
  const auto v = verifier_.verify(cookieValue);
  SessionVerdict out;
  out.reason = v.reason();
  if (v.outcome == session::Verification::Outcome::StoreUnavailable) {
    out.kind = SessionVerdict::Kind::Unavailable;
    return out;
  }
  if (!v.valid()) return out;
  out.kind = SessionVerdict::Kind::Valid;
  out.sessionId = v.session.id;
  out.parentId = v.session.parentId;
  out.username = v.session.username;
  out.email = v.session.email;
  out.groups = v.session.groups;
  out.role = v.session.role;
  return out;
}

session::HandoffResult RedisSessionAuthority::redeem(std::string_view code, std::string_view host,
                                                     std::string_view nonce, std::string_view clientIp,
                                                     std::string_view userAgent) {
  return session::redeemHandoff(handoffs_, sessions_, keys_, clock_, policy_, code, host, nonce, clientIp,
                               userAgent);
}

SessionVerdicts::SessionVerdicts(const Clock& clock, std::chrono::milliseconds ttl, std::size_t maxEntries,
                                 std::chrono::milliseconds staleGrace)
    : clock_(clock), ttl_(ttl), maxEntries_(maxEntries), staleGrace_(staleGrace) {}

std::shared_ptr<const SessionVerdict> SessionVerdicts::find(std::string_view cookieValue) {
  const auto now = clock_.monotonic();
  std::lock_guard lock(mu_);
  const auto it = entries_.find(cookieValue);
  if (it == entries_.end()) return nullptr;
  if (it->second.expires <= now) {
    if (it->second.staleUntil <= now) entries_.erase(it);
    return nullptr;
  }
  return it->second.verdict;
}

std::shared_ptr<const SessionVerdict> SessionVerdicts::lastValid(std::string_view cookieValue) {
  const auto now = clock_.monotonic();
  std::lock_guard lock(mu_);
  const auto it = entries_.find(cookieValue);
  if (it == entries_.end() || it->second.staleUntil <= now || it->second.verdict->kind != SessionVerdict::Kind::Valid)
    return nullptr;
  return it->second.verdict;
}

void SessionVerdicts::store(std::string_view cookieValue, std::shared_ptr<const SessionVerdict> verdict,
                            std::uint64_t generation) {
  if (!verdict || verdict->kind == SessionVerdict::Kind::Unavailable) return;
  const auto expires = clock_.monotonic() + ttl_;
  const auto staleUntil = verdict->kind == SessionVerdict::Kind::Valid ? expires + staleGrace_ : expires;
  std::lock_guard lock(mu_);
  if (generation != generation_) return;  // a revocation ran meanwhile: the verdict may predate it
  // A full cache starts over rather than tracking age: entries live two
  // seconds (valid ones half a minute more for lastValid), so it refills
  // from the sessions actually in use.
  if (entries_.size() >= maxEntries_) entries_.clear();
  entries_[std::string(cookieValue)] = {std::move(verdict), expires, staleUntil};
}

void SessionVerdicts::revoke(std::string_view id) {
  std::lock_guard lock(mu_);
  ++generation_;
  std::erase_if(entries_, [&](const auto& kv) {
    const SessionVerdict& v = *kv.second.verdict;
    return v.sessionId == id || v.parentId == id;
  });
}

std::uint64_t SessionVerdicts::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

std::size_t SessionVerdicts::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

AllowCache::AllowCache(const Clock& clock, std::size_t maxEntries) : clock_(clock), maxEntries_(maxEntries) {}

std::string AllowCache::key(std::string_view providerId, std::string_view cookie, std::string_view authorization) {
  std::string material;
  material.reserve(cookie.size() + authorization.size() + 1);
  material.append(cookie).push_back('\0');
  material.append(authorization);
  std::string k(providerId);
  k.push_back('\0');
  k += crypto::sha256(material);
  return k;
}

std::shared_ptr<const CachedAllow> AllowCache::find(const std::string& key) {
  const auto now = clock_.monotonic();
  std::lock_guard lock(mu_);
  const auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  if (it->second.expires <= now) {
    entries_.erase(it);
    return nullptr;
  }
  return it->second.allow;
}

void AllowCache::store(std::string key, std::shared_ptr<const CachedAllow> allow, std::chrono::seconds ttl) {
  const auto expires = clock_.monotonic() + ttl;
  std::lock_guard lock(mu_);
  if (entries_.size() >= maxEntries_) entries_.clear();
  entries_[std::move(key)] = {std::move(allow), expires};
}

SsoContext::SsoContext(SessionAuthority& authority_, const Clock& clock, SsoSettings settings_, int workerThreads)
    : authority(authority_),
      settings(std::move(settings_)),
      verdicts(clock, settings.verdictTtl, 100000, settings.verdictStaleGrace),
      allows(clock, 100000),
      workers(static_cast<std::size_t>(workerThreads)) {}

SsoContext::~SsoContext() {
  workers.stop();
  workers.join();
}

bool SsoContext::cookieReaches(std::string_view host) const {
  if (host == settings.publicHost) return true;
  const std::string_view d = settings.cookieDomain;
  if (d.empty()) return false;
  // "example.com" and ".example.com" both cover a.example.com and example.com.
  const std::string_view domain = d.front() == '.' ? d.substr(1) : d;
  return host == domain || (host.size() > domain.size() && host.ends_with(domain) &&
                            host[host.size() - domain.size() - 1] == '.');
}

}  // namespace proxyos::edge
