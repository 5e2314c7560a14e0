#include "login_diagnosis.h"

namespace proxyos::auth {

bool hostInDomain(const std::string& host, const std::string& domain) {
  std::string d = domain;
  if (!d.empty() && d.front() == '.') d.erase(0, 1);
  if (d.empty()) return false;
  return host == d || (host.size() > d.size() && host.compare(host.size() - d.size(), d.size(), d) == 0 &&
                       host[host.size() - d.size() - 1] == '.');
}

std::optional<Diagnosis> cookieWillBeDropped(const RequestView& view, const Url& publicUrl,
                                             const std::string& cookieDomain) {
  if (publicUrl.scheme == "https" && view.scheme != "https")
    return Diagnosis{"secure_cookie_over_http",
                     "Your browser dropped the session cookie: it is marked Secure because PROXYOS_URL is " +
                         publicUrl.origin() + ", but this page was opened over plain HTTP. Open " +
                         publicUrl.origin() + " instead, or set PROXYOS_URL to an http:// address."};
  const bool hostOk = view.host == publicUrl.host || hostInDomain(view.host, cookieDomain);
  if (!hostOk)
    return Diagnosis{"host_mismatch",
                     "This page was opened as " + view.host + " but ProxyOS is configured as " + publicUrl.host +
                         " (PROXYOS_URL), so the browser keeps the session cookie for the wrong host. Open " +
                         publicUrl.origin() + " instead, or change PROXYOS_URL to the address you use."};
  return std::nullopt;
}

Diagnosis diagnose(const RequestView& view, const Url& publicUrl, const std::string& cookieDomain, bool cookieReceived,
                   const session::Verification& v) {
  if (!cookieReceived) {
    if (auto dropped = cookieWillBeDropped(view, publicUrl, cookieDomain)) return *dropped;
    return {"no_cookie_received", "No session cookie arrived with this request: you are not logged in here."};
  }
  using O = session::Verification::Outcome;
  switch (v.outcome) {
    case O::Valid: return {"ok", "You are logged in."};
    case O::UnknownSigningSecret:
      return {"unknown_signing_secret",
              "Your session cookie was signed with a secret this server no longer knows (key id " + v.kid +
                  "): PROXYOS_SECRET changed without keeping the old one in PROXYOS_SECRET_PREVIOUS. Log in again."};
    case O::Expired: return {"session_expired", "Your session has expired. Log in again."};
    case O::Revoked: return {"session_revoked", "Your session was ended (logged out or revoked). Log in again."};
    case O::BadSignature:
      return {"invalid_signature", "Your session cookie is not one this server issued (its signature does not match)."};
    case O::Malformed: return {"malformed_cookie", "Your session cookie is damaged. Log in again."};
    case O::StoreUnavailable:
      return {"session_store_unavailable", "The session store (Redis) is unavailable; try again shortly."};
    case O::NoCookie: break;
  }
  return {"no_cookie_received", "No session cookie arrived with this request: you are not logged in here."};
}

}  // namespace proxyos::auth
