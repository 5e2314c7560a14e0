#include "shared/session/session_verifier.h"

namespace proxyos::session {

std::string Verification::reason() const {
  switch (outcome) {
    case Outcome::Valid: return "valid";
    case Outcome::NoCookie: return "no_cookie_received";
    case Outcome::Malformed: return "malformed_cookie";
    case Outcome::UnknownSigningSecret: return "unknown_signing_secret";
    case Outcome::BadSignature: return "invalid_signature";
    case Outcome::Expired: return "session_expired";
    case Outcome::Revoked: return "session_revoked";
    case Outcome::StoreUnavailable: return "session_store_unavailable";
  }
  return "unknown";
}

std::chrono::seconds storeTtl(const SessionPolicy& policy, const Session& s, Clock::WallTime now) {
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(policy.expiresAt(s) - now);
  return std::max(left, std::chrono::seconds{1});
}

SessionVerifier::SessionVerifier(const SigningKeys& keys, SessionStore& store, const Clock& clock, SessionPolicy policy)
    : keys_(keys), store_(store), clock_(clock), policy_(policy) {}

Verification::Outcome SessionVerifier::lookup(const std::string& id, Clock::WallTime now,
                                              std::optional<Session>& out) {
  auto found = store_.get(id);
  if (!found) return Verification::Outcome::StoreUnavailable;
  if (found.value() && policy_.expiresAt(*found.value()) > now) {
    out = std::move(found).value();
    return Verification::Outcome::Valid;
  }
  auto revoked = store_.wasRevoked(id);
  if (!revoked) return Verification::Outcome::StoreUnavailable;
  return revoked.value() ? Verification::Outcome::Revoked : Verification::Outcome::Expired;
}

Verification SessionVerifier::verify(std::string_view cookieValue) {
  Verification v;
  if (cookieValue.empty()) return v;
  const auto decoded = decodeCookie(keys_, cookieValue);
  v.kid = decoded.kid;
  switch (decoded.check) {
    case DecodedCookie::Check::Malformed: v.outcome = Verification::Outcome::Malformed; return v;
    case DecodedCookie::Check::UnknownKid: v.outcome = Verification::Outcome::UnknownSigningSecret; return v;
    case DecodedCookie::Check::BadMac: v.outcome = Verification::Outcome::BadSignature; return v;
    case DecodedCookie::Check::Valid:
    case DecodedCookie::Check::ValidPrevious: break;
  }
  const auto now = clock_.now();
  std::optional<Session> found;
  v.outcome = lookup(sessionId(decoded.token), now, found);
  if (v.outcome != Verification::Outcome::Valid) return v;
  if (!found->parentId.empty()) {
    // Read only: the parent's idle clock is kept by its own cookie, not by its
    // linked sessions, so browsing another host does not extend the dashboard login.
    std::optional<Session> parent;
    v.outcome = lookup(found->parentId, now, parent);
    if (v.outcome != Verification::Outcome::Valid) return v;
  }
  v.session = std::move(*found);
  if (now - v.session.lastSeen >= policy_.touchInterval) {
    v.session.lastSeen = now;
    (void)store_.put(v.session, storeTtl(policy_, v.session, now));  // best effort: a missed touch costs nothing
  }
  if (decoded.check == DecodedCookie::Check::ValidPrevious) {
    v.reissue = true;
    v.reissuedCookie = encodeCookie(keys_, decoded.token);  // same token, same session: only the MAC changes
  }
  return v;
}

}  // namespace proxyos::session
