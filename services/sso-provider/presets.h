#pragma once
// Starting points for the dashboard's "add provider" form: the usual
// forward-auth URL, login URL and identity headers of each provider type
// (ARCHITECTURE.md §4). The hosts are the ones the products' own docs use
// (docker-compose service names, auth.example.com); the operator edits them.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "shared/core/url.h"
#include "shared/model/sso_provider.h"

namespace proxyos::sso {

/// One preset: a provider of `type`, filled in, without id or timestamps.
struct Preset {
  model::SsoProviderType type;
  std::string name;  // what the dashboard shows, e.g. "Keycloak (via oauth2-proxy)"
  model::SsoProvider provider;
};

/// One preset per type, in the contract's type order. The built-in one points
/// at this installation: forwardAuthUrl = `authUrl` (PROXYOS_AUTH_URL) +
/// /api/auth/verify, loginUrl = `publicUrl` (PROXYOS_URL) + /login.
std::vector<Preset> makePresets(const Url& publicUrl, const Url& authUrl);

/// {"type","name","provider":{...}}; the provider without the server-managed
/// id, revision, createdAt and updatedAt, so it can be POSTed as it is.
nlohmann::ordered_json toJson(const Preset& preset);
/// {"presets":[...]}
nlohmann::ordered_json presetsJson(const std::vector<Preset>& presets);

}  // namespace proxyos::sso
