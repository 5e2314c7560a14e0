#include "presets.h"

namespace proxyos::sso {

namespace {

using model::SsoProviderType;

Preset preset(SsoProviderType type, std::string name, std::string forwardAuthUrl, std::string loginUrl,
              std::vector<std::string> responseHeaders, std::string groupsHeader, std::string separator) {
  model::SsoProvider p;
  p.name = name;
  p.type = type;
  p.forwardAuthUrl = std::move(forwardAuthUrl);
  p.loginUrl = std::move(loginUrl);
  p.authResponseHeaders = std::move(responseHeaders);
  p.groupsHeader = std::move(groupsHeader);
  p.groupsSeparator = std::move(separator);
  return {type, std::move(name), std::move(p)};
}

}  // namespace

std::vector<Preset> makePresets(const Url& publicUrl, const Url& authUrl) {
  return {
      preset(SsoProviderType::Authelia, "Authelia", "http://authelia:9091/api/authz/forward-auth",
             "https://auth.example.com/", {"Remote-User", "Remote-Groups", "Remote-Email", "Remote-Name"},
             "Remote-Groups", ","),
      // Authentik's embedded outpost answers browsers with its own redirect;
      // loginUrl is only used for a bare 401/403.
      preset(SsoProviderType::Authentik, "Authentik",
             "http://authentik-server:9000/outpost.goauthentik.io/auth/caddy", "https://auth.example.com/",
             {"X-authentik-username", "X-authentik-groups", "X-authentik-email", "X-authentik-name",
              "X-authentik-uid"},
             "X-authentik-groups", "|"),
      preset(SsoProviderType::Keycloak, "Keycloak (via oauth2-proxy)", "http://oauth2-proxy:4180/oauth2/auth",
             "https://auth.example.com/oauth2/start",
             {"X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Groups"}, "X-Auth-Request-Groups", ","),
      preset(SsoProviderType::Generic, "Generic forward auth", "http://forward-auth:8080/verify",
             "https://auth.example.com/login", {}, "", ","),
      preset(SsoProviderType::Builtin, "ProxyOS built-in", authUrl.origin() + "/api/auth/verify",
             publicUrl.origin() + "/login", {"X-Auth-User", "X-Auth-Email", "X-Auth-Groups"}, "X-Auth-Groups", ","),
  };
}

nlohmann::ordered_json toJson(const Preset& preset) {
  auto provider = model::toJson(preset.provider);
  for (const char* serverManaged : {"id", "revision", "createdAt", "updatedAt"}) provider.erase(serverManaged);
  return {{"type", model::ssoProviderTypeName(preset.type)}, {"name", preset.name}, {"provider", provider}};
}

nlohmann::ordered_json presetsJson(const std::vector<Preset>& presets) {
  auto items = nlohmann::ordered_json::array();
  for (const auto& p : presets) items.push_back(toJson(p));
  return {{"presets", items}};
}

}  // namespace proxyos::sso
