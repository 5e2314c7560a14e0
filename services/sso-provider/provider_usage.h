#pragma once
// The seam between the sso-provider service and the routes that use its
// providers. Routes belong to route-registry, so the answers come from there
// (over REST); the service only depends on this interface, and unit tests
// pass a fake.
#include <string>
#include <vector>

#include "shared/core/error.h"
#include "shared/model/sso_provider.h"

namespace proxyos::sso {

/// What the routes say about a provider. Implementations fail closed: when
/// they cannot find out, they return an error (typically Unavailable), and
/// the write that asked is refused.
class ProviderUsage {
 public:
  virtual ~ProviderUsage() = default;
  /// Ids of the routes whose ssoProviderId is `providerId` (delete refuses
  /// with 409 provider_in_use while there are any).
  virtual Result<std::vector<std::string>> routesUsing(const std::string& providerId) = 0;
  /// Ok unless a route using `provider` (matched by id) would loop: SSO on
  /// the host serving the provider's own forwardAuthUrl or loginUrl (422
  /// sso_redirect_loop). Called on every update, with the provider as it
  /// would be stored; not on create, since no route can name a new id yet.
  virtual Status checkUrlsAgainstRoutes(const model::SsoProvider& provider) = 0;
};

/// Knows of no route: every provider is unused and every URL fine. Only for
/// wiring until the route-registry lookup is in place.
class NoProviderUsage final : public ProviderUsage {
 public:
  Result<std::vector<std::string>> routesUsing(const std::string&) override { return std::vector<std::string>{}; }
  Status checkUrlsAgainstRoutes(const model::SsoProvider&) override { return okStatus(); }
};

}  // namespace proxyos::sso
