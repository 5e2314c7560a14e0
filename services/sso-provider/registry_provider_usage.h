#pragma once
#include "provider_usage.h"
#include "shared/http/service_client.h"

namespace proxyos::sso {

/// ProviderUsage answered by route-registry (GET /api/routes?ssoProviderId=),
/// which owns the routes. Unavailable when it cannot answer: the write is refused.
class RegistryProviderUsage final : public ProviderUsage {
 public:
  explicit RegistryProviderUsage(const http::ServiceClient& registry) : registry_(registry) {}
  Result<std::vector<std::string>> routesUsing(const std::string& providerId) override;
  Status checkUrlsAgainstRoutes(const model::SsoProvider& provider) override;

 private:
  Result<nlohmann::json> routesOf(const std::string& providerId);
  const http::ServiceClient& registry_;
};

}  // namespace proxyos::sso
