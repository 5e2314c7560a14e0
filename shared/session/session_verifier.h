#pragma once
// Verifies a proxyos_session cookie: MAC first (a forged cookie never reaches
// the store), then the store lookup, then expiry. Used by the auth service,
// by every admin API (api_guard.h) and, later, in-process by the edge.
#include <optional>
#include <string>
#include <string_view>

#include "shared/session/cookie_codec.h"
#include "shared/session/session.h"

namespace proxyos::session {

struct Verification {
  /// The reasons are the diagnose causes of ARCHITECTURE.md §3.
  enum class Outcome {
    Valid,
    NoCookie,              // no_cookie_received
    Malformed,             // malformed_cookie
    UnknownSigningSecret,  // unknown_signing_secret
    BadSignature,          // invalid_signature (forged or corrupted)
    Expired,               // session_expired (includes never-existed)
    Revoked,               // session_revoked
    StoreUnavailable,      // Redis down: fail closed
  };
  Outcome outcome = Outcome::NoCookie;
  Session session;          // when Valid
  bool reissue = false;     // Valid under a previous secret: send a new cookie
  std::string reissuedCookie;  // the cookie value to send when reissue
  std::string kid;          // the cookie's key id, when it had one

  bool valid() const { return outcome == Outcome::Valid; }
  std::string reason() const;  // snake_case cause
};

class SessionVerifier {
 public:
  SessionVerifier(const SigningKeys& keys, SessionStore& store, const Clock& clock, SessionPolicy policy = {});
  /// Checks one cookie value; refreshes last-seen at most once per touchInterval.
  /// A linked session (parentId set) is valid only while its parent is live.
  Verification verify(std::string_view cookieValue);
  const SessionPolicy& policy() const { return policy_; }

 private:
  /// Valid when `id` names a live session (filled into `out`), else why not.
  Verification::Outcome lookup(const std::string& id, Clock::WallTime now, std::optional<Session>& out);

  const SigningKeys& keys_;
  SessionStore& store_;
  const Clock& clock_;
  SessionPolicy policy_;
};

/// Seconds a session should live in the store from now (idle and absolute limits).
std::chrono::seconds storeTtl(const SessionPolicy& policy, const Session& s, Clock::WallTime now);

}  // namespace proxyos::session
