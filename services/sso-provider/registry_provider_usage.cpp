#include "registry_provider_usage.h"

#include "shared/model/sso_loop.h"

namespace proxyos::sso {

Result<nlohmann::json> RegistryProviderUsage::routesOf(const std::string& providerId) {
  auto reply = registry_.get("/api/routes?ssoProviderId=" + providerId);
  if (!reply) return reply.error();
  if (reply.value().status != 200 || !reply.value().body.contains("routes"))
    return Error::make(ErrorKind::Unavailable, "dependency_unavailable",
                       registry_.target() + " answered " + std::to_string(reply.value().status) +
                           " to a route lookup; nothing was changed");
  return reply.value().body["routes"];
}

Result<std::vector<std::string>> RegistryProviderUsage::routesUsing(const std::string& providerId) {
  auto routes = routesOf(providerId);
  if (!routes) return routes.error();
  std::vector<std::string> ids;
  for (const auto& r : routes.value()) ids.push_back(r.value("id", ""));
  return ids;
}

Status RegistryProviderUsage::checkUrlsAgainstRoutes(const model::SsoProvider& provider) {
  if (provider.id.empty()) return okStatus();  // a new provider: no route uses it yet
  auto routes = routesOf(provider.id);
  if (!routes) return routes.error();
  for (const auto& r : routes.value()) {
    if (!r.value("ssoEnabled", false)) continue;
    const auto domains = r.value("domains", std::vector<std::string>{});
    if (auto loop = model::findSsoLoop(domains, provider.forwardAuthUrl, provider.loginUrl))
      return Error{ErrorKind::Invalid, "sso_redirect_loop",
                   loop->urlField + ": route " + r.value("id", "") + " (" + r.value("name", "") +
                       ") uses this provider. " + loop->message,
                   loop->urlField, {}};
  }
  return okStatus();
}

}  // namespace proxyos::sso
