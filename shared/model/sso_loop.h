#pragma once
// The SSO redirect loop (ARCHITECTURE.md §4): a route may not put SSO on the
// host that serves its own provider's forwardAuthUrl or loginUrl — the login
// page would itself demand a login. Both route-registry (route side) and
// sso-provider (provider side) refuse it with this one check.
#include <optional>
#include <string>
#include <vector>

namespace proxyos::model {

struct SsoLoop {
  size_t domainIndex = 0;  // which of the route's domains
  std::string host;        // the provider URL's host it covers
  std::string urlField;    // "forwardAuthUrl" | "loginUrl"
  std::string url;
  std::string message;     // says which host and why
};

/// True when route domain `domain` ("a.example.com" or "*.example.com") serves `host`.
bool domainServesHost(const std::string& domain, const std::string& host);

std::optional<SsoLoop> findSsoLoop(const std::vector<std::string>& routeDomains, const std::string& forwardAuthUrl,
                                   const std::string& loginUrl);

}  // namespace proxyos::model
