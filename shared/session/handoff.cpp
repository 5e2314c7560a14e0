#include "shared/session/handoff.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "shared/core/log.h"
#include "shared/crypto/base64url.h"
#include "shared/crypto/constant_time.h"
#include "shared/crypto/sha256.h"
#include "shared/session/cookie_codec.h"
#include "shared/session/session_verifier.h"

namespace proxyos::session {

namespace {

using redis::Reply;

// newToken(): 32 random bytes are 43 base64url characters.
constexpr size_t kCodeLength = 43;

// Anything else cannot have been issued, so it need not cost a store call.
bool wellFormedCode(std::string_view code) {
  return code.size() == kCodeLength && crypto::base64UrlDecode(code).has_value();
}

// What logs may show of a code: enough to match lines up, useless to redeem.
std::string codeTag(std::string_view code) { return crypto::sha256Hex(code).substr(0, 8); }

Error unavailable(const std::string& what, const std::string& detail) {
  return Error::make(ErrorKind::Unavailable, "session_store_unavailable", "handoff store: " + what + ": " + detail);
}

std::string encodeGrant(const HandoffGrant& g) {
  return nlohmann::json{{"sessionId", g.sessionId}, {"host", g.host}, {"rd", g.rd}, {"state", g.state}}.dump();
}

std::optional<HandoffGrant> decodeGrant(const std::string& text) {
  try {
    const auto j = nlohmann::json::parse(text);
    return HandoffGrant{j.at("sessionId").get<std::string>(), j.at("host").get<std::string>(),
                        j.at("rd").get<std::string>(), j.at("state").get<std::string>()};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::string handoffState(std::string_view nonce) { return crypto::sha256Hex(nonce); }

bool isHandoffState(std::string_view state) {
  return state.size() == 64 &&
         std::all_of(state.begin(), state.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// ---- Redis ----

std::string RedisHandoffStore::key(std::string_view code) { return "proxyos:handoff:" + crypto::sha256Hex(code); }

Result<std::string> RedisHandoffStore::issue(const HandoffGrant& grant, std::chrono::seconds ttl) {
  std::string code = newToken();
  // EX 0 is an error reply in Redis; the shortest life is 1 s.
  const auto seconds = std::to_string(std::max<long long>(ttl.count(), 1));
  auto r = client_.command({"SET", key(code), encodeGrant(grant), "EX", seconds});
  if (!r) return unavailable("issue", r.error().message);
  if (r.value().type != Reply::Type::Status) return unavailable("issue", "unexpected reply type");
  return code;
}

Result<std::optional<HandoffGrant>> RedisHandoffStore::redeem(std::string_view code) {
  if (!wellFormedCode(code)) return std::optional<HandoffGrant>{};
  // GETDEL, not GET then DEL: two edges racing on one code must not both win.
  auto r = client_.command({"GETDEL", key(code)});
  if (!r) return unavailable("redeem", r.error().message);
  if (r.value().isNil()) return std::optional<HandoffGrant>{};
  if (r.value().type != Reply::Type::String) return unavailable("redeem", "unexpected reply type");
  auto grant = decodeGrant(r.value().str);
  // Refused rather than an error: a grant we cannot read grants nothing.
  if (!grant) spdlog::warn("handoff store: grant for code {} does not decode", codeTag(code));
  return grant;
}

// ---- memory ----

struct MemoryHandoffStore::State {
  std::mutex mu;
  std::map<std::string, std::pair<HandoffGrant, Clock::WallTime>> grants;  // sha256hex(code) -> (grant, expiry)
};

MemoryHandoffStore::MemoryHandoffStore(const Clock& clock) : clock_(clock), state_(std::make_unique<State>()) {}
MemoryHandoffStore::~MemoryHandoffStore() = default;

Result<std::string> MemoryHandoffStore::issue(const HandoffGrant& grant, std::chrono::seconds ttl) {
  std::string code = newToken();
  const auto now = clock_.now();
  std::lock_guard lock(state_->mu);
  std::erase_if(state_->grants, [now](const auto& e) { return e.second.second <= now; });  // bounded by live codes
  state_->grants[crypto::sha256Hex(code)] = {grant, now + ttl};
  return code;
}

Result<std::optional<HandoffGrant>> MemoryHandoffStore::redeem(std::string_view code) {
  if (!wellFormedCode(code)) return std::optional<HandoffGrant>{};
  std::lock_guard lock(state_->mu);
  auto node = state_->grants.extract(crypto::sha256Hex(code));  // taken out whether live or not: single use
  if (node.empty() || node.mapped().second <= clock_.now()) return std::optional<HandoffGrant>{};
  return std::optional<HandoffGrant>{std::move(node.mapped().first)};
}

// ---- the edge's redeem ----

namespace {

HandoffResult withOutcome(HandoffResult::Outcome o) {
  HandoffResult r;
  r.outcome = o;
  return r;
}

Session linkedSession(const Session& parent, const std::string& token, Clock::WallTime now, std::string_view clientIp,
                      std::string_view userAgent) {
  Session s;
  s.id = sessionId(token);
  s.userId = parent.userId;
  s.username = parent.username;
  s.email = parent.email;
  s.groups = parent.groups;
  s.role = parent.role;
  s.created = s.lastSeen = now;
  s.clientIp = std::string(clientIp);
  s.userAgent = std::string(userAgent);
  s.parentId = parent.id;
  return s;
}

}  // namespace

HandoffResult redeemHandoff(HandoffStore& handoffs, SessionStore& sessions, const SigningKeys& keys,
                            const Clock& clock, const SessionPolicy& policy, std::string_view code,
                            std::string_view host, std::string_view nonce, std::string_view clientIp,
                            std::string_view userAgent) {
  using Outcome = HandoffResult::Outcome;
  auto grant = handoffs.redeem(code);
  if (!grant) {
    spdlog::warn("handoff: cannot redeem code {}: {}", codeTag(code), grant.error().message);
    return withOutcome(Outcome::StoreUnavailable);
  }
  // A code shown to one host must not open a session on another (a leaked
  // callback URL replayed elsewhere): it is consumed all the same.
  if (!grant.value() || grant.value()->host != host) return withOutcome(Outcome::Refused);
  // Only the browser that started the handoff may finish it.
  const std::string& state = grant.value()->state;
  if (state.empty() || nonce.empty() || !crypto::constantTimeEquals(handoffState(nonce), state))
    return withOutcome(Outcome::Refused);

  const auto now = clock.now();
  auto parent = sessions.get(grant.value()->sessionId);
  if (!parent) {
    spdlog::warn("handoff: cannot read the dashboard session: {}", parent.error().message);
    return withOutcome(Outcome::StoreUnavailable);
  }
  if (!parent.value() || policy.expiresAt(*parent.value()) <= now) return withOutcome(Outcome::SessionEnded);

  const std::string token = newToken();
  HandoffResult r = withOutcome(Outcome::Ok);
  r.session = linkedSession(*parent.value(), token, now, clientIp, userAgent);
  // The parent's remaining life: the linked session is worthless after it anyway.
  if (auto put = sessions.put(r.session, storeTtl(policy, *parent.value(), now)); !put) {
    spdlog::warn("handoff: cannot store the linked session: {}", put.error().message);
    return withOutcome(Outcome::StoreUnavailable);
  }
  r.cookieValue = encodeCookie(keys, token);
  r.rd = std::move(grant.value()->rd);
  spdlog::info("handoff: linked session={} parent={} user={} host={}", r.session.id.substr(0, 12),
               r.session.parentId.substr(0, 12), r.session.username, host);
  return r;
}

}  // namespace proxyos::session
