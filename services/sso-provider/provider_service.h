#pragma once
// The sso-provider service's logic over a KvStore: create, read, list,
// replace, patch and delete of SSO providers with compare-and-set updates
// (If-Match), and the route checks behind ProviderUsage. No HTTP here:
// handlers call this, unit tests drive it with MemoryKvStore and FakeClock.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "provider_usage.h"
#include "shared/core/clock.h"
#include "shared/model/sso_provider.h"
#include "shared/store/kv_store.h"

namespace proxyos::sso {

/// The KV bucket the service owns (the edge watches it read-only).
inline constexpr const char* kProviderBucket = "proxyos-sso-providers";

/// "provider.<id>": the key of a provider in kProviderBucket.
std::string providerKey(const std::string& id);

/// CRUD of providers. Thread-safe as far as the KvStore and ProviderUsage are.
class ProviderService {
 public:
  ProviderService(store::KvStore& kv, const Clock& clock, ProviderUsage& usage);

  /// `draft` is a decoded, validated provider; a new id and timestamps are
  /// assigned here (ids are the server's; nothing imports providers).
  Result<model::SsoProvider> create(model::SsoProvider draft);
  Result<model::SsoProvider> get(const std::string& id);
  /// Every provider, oldest first (ids sort by creation time).
  Result<std::vector<model::SsoProvider>> list();
  /// PUT: replaces the provider. With `ifMatch`, the stored revision must equal it (else 412).
  Result<model::SsoProvider> replace(const std::string& id, model::SsoProvider draft,
                                     std::optional<uint64_t> ifMatch);
  /// PATCH: JSON merge patch (RFC 7386) over the stored provider, then full validation.
  Result<model::SsoProvider> patch(const std::string& id, const nlohmann::json& mergePatch,
                                   std::optional<uint64_t> ifMatch);
  /// Refused with 409 provider_in_use, naming the routes, while routes use it.
  Status remove(const std::string& id, std::optional<uint64_t> ifMatch);

 private:
  using Builder = std::function<Result<model::SsoProvider>(const model::SsoProvider& current)>;
  /// The one compare-and-set loop behind replace and patch.
  Result<model::SsoProvider> updateWith(const std::string& id, std::optional<uint64_t> ifMatch,
                                        const Builder& build);
  Result<model::SsoProvider> load(const std::string& id);
  static std::string encode(const model::SsoProvider& p);

  store::KvStore& kv_;
  const Clock& clock_;
  ProviderUsage& usage_;
};

}  // namespace proxyos::sso
