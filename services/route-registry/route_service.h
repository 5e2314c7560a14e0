#pragma once
// The route registry's logic over a KvStore: create, read, list, replace,
// patch, delete, import and export of routes, with domain+path uniqueness
// (route_claims.h) and compare-and-set updates. No HTTP here: handlers call
// this, unit tests drive it with MemoryKvStore and FakeClock.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "shared/core/clock.h"
#include "shared/model/route.h"
#include "provider_directory.h"
#include "shared/store/kv_store.h"

namespace proxyos::registry {

struct RouteFilter {
  std::string domain;         // exact, case-insensitive; "" = any
  std::string ssoProviderId;  // "" = any
};

struct ImportItemResult {
  size_t index = 0;
  std::string id;
  std::string status;  // created | updated | failed
  std::optional<Error> error;
};

class RouteService {
 public:
  RouteService(store::KvStore& kv, ProviderDirectory& providers, const Clock& clock,
               model::RouteValidationContext validation);

  const model::RouteValidationContext& validation() const { return validation_; }

  /// `draft` is a decoded, validated route; id and timestamps are assigned here
  /// (a valid draft.id is kept: import restores exported ids).
  Result<model::Route> create(model::Route draft);
  Result<model::Route> get(const std::string& id);
  Result<std::vector<model::Route>> list(const RouteFilter& filter);
  /// PUT: replaces the route. With `ifMatch`, the stored revision must equal it (else 412).
  Result<model::Route> replace(const std::string& id, model::Route draft, std::optional<uint64_t> ifMatch);
  /// PATCH: JSON merge patch (RFC 7386) over the stored route, then full validation.
  Result<model::Route> patch(const std::string& id, const nlohmann::json& mergePatch, std::optional<uint64_t> ifMatch);
  Status remove(const std::string& id, std::optional<uint64_t> ifMatch);

  /// Validates every item and checks its claims against the stored routes
  /// before writing any; writes nothing if one fails. Then upserts by id.
  Result<std::vector<ImportItemResult>> importRoutes(const nlohmann::json& document);
  /// The latest config revision (the bucket's last write).
  Result<uint64_t> configRevision();

 private:
  using Builder = std::function<Result<model::Route>(const model::Route& current)>;
  /// The one compare-and-set loop behind replace, patch and import updates.
  Result<model::Route> updateWith(const std::string& id, std::optional<uint64_t> ifMatch, const Builder& build);
  Result<model::Route> load(const std::string& id);
  std::string encode(const model::Route& r) const;
  /// ssoProviderId must exist (422 unknown_provider); with SSO on, no domain may
  /// serve the provider's own URLs (422 sso_redirect_loop). Unavailable (503)
  /// when sso-provider cannot answer: never accepted unchecked.
  Status checkSso(const model::Route& r, const std::string& fieldPrefix = "");

  store::KvStore& kv_;
  ProviderDirectory& providers_;
  const Clock& clock_;
  model::RouteValidationContext validation_;
};

}  // namespace proxyos::registry
