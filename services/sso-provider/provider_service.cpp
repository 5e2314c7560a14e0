#include "provider_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "shared/core/id.h"
#include "shared/core/time_format.h"
#include "shared/store/cas_loop.h"
#include "shared/store/stored_resource.h"

namespace proxyos::sso {

namespace {

constexpr const char* kKeyPrefix = "provider.";

Error notFound(const std::string& id) {
  return Error::make(ErrorKind::NotFound, "provider_not_found", "no SSO provider with id " + id);
}

/// `current` 0: the provider changed between our read and our write.
Error inUse(const std::string& id, const std::vector<std::string>& routes) {
  std::string list;
  for (const auto& r : routes) list += (list.empty() ? "" : ", ") + r;
  return Error::make(ErrorKind::Conflict, "provider_in_use",
                     "SSO provider " + id + " is used by " + std::to_string(routes.size()) +
                         (routes.size() == 1 ? " route: " : " routes: ") + list +
                         "; point them at another provider or turn their SSO off first");
}

}  // namespace

std::string providerKey(const std::string& id) { return kKeyPrefix + id; }

ProviderService::ProviderService(store::KvStore& kv, const Clock& clock, ProviderUsage& usage)
    : kv_(kv), clock_(clock), usage_(usage) {}

std::string ProviderService::encode(const model::SsoProvider& p) {
  auto j = model::toJson(p);
  j.erase("revision");  // the revision is the KV entry's, never stored in the value
  return j.dump();
}

Result<model::SsoProvider> ProviderService::load(const std::string& id) {
  if (!isValidId(id)) return notFound(id);
  return store::readStored<model::SsoProvider>(kv_, kKeyPrefix, id, "provider",
                                               [](const std::string& v) { return model::parseSsoProvider(v); },
                                               notFound(id));
}

Result<model::SsoProvider> ProviderService::create(model::SsoProvider draft) {
  draft.id = newId(clock_);
  draft.createdAt = draft.updatedAt = formatTime(clock_.now());
  auto rev = kv_.create(providerKey(draft.id), encode(draft));
  if (!rev) {
    if (rev.error().kind == ErrorKind::Conflict)  // a fresh id taken: only a broken random source does that
      return Error::make(ErrorKind::Internal, "provider_exists", "SSO provider id " + draft.id + " already exists");
    return rev.error();
  }
  draft.revision = rev.value();
  return draft;
}

Result<model::SsoProvider> ProviderService::get(const std::string& id) { return load(id); }

Result<std::vector<model::SsoProvider>> ProviderService::list() {
  return store::listStored<model::SsoProvider>(kv_, kKeyPrefix, "provider",
                                               [](const std::string& v) { return model::parseSsoProvider(v); });
}

Result<model::SsoProvider> ProviderService::updateWith(const std::string& id, std::optional<uint64_t> ifMatch,
                                                       const Builder& build) {
  return store::casLoop(
      "SSO provider " + id, ifMatch, [&] { return load(id); },
      [](const model::SsoProvider& p) { return p.revision; },
      [&](const model::SsoProvider& cur) -> Result<model::SsoProvider> {
        auto next = build(cur);
        if (!next) return next.error();
        model::SsoProvider updated = std::move(next.value());
        updated.id = id;
        updated.createdAt = cur.createdAt;
        updated.updatedAt = formatTime(clock_.now());
        // Routes already using this provider must not end up in a redirect loop
        // with its new URLs. Checked on every attempt: the routes may change too.
        if (auto s = usage_.checkUrlsAgainstRoutes(updated); !s) return s.error();
        auto rev = kv_.update(providerKey(id), encode(updated), cur.revision);
        if (!rev) return rev.error();
        updated.revision = rev.value();
        return updated;
      });
}

Result<model::SsoProvider> ProviderService::replace(const std::string& id, model::SsoProvider draft,
                                                    std::optional<uint64_t> ifMatch) {
  if (!draft.id.empty() && draft.id != id)
    return Error{ErrorKind::Invalid, "id_mismatch", "id: the body's id (" + draft.id + ") differs from the URL's",
                 "id", {}};
  return updateWith(id, ifMatch, [&](const model::SsoProvider&) -> Result<model::SsoProvider> { return draft; });
}

Result<model::SsoProvider> ProviderService::patch(const std::string& id, const nlohmann::json& mergePatch,
                                                  std::optional<uint64_t> ifMatch) {
  if (!mergePatch.is_object())
    return Error::make(ErrorKind::BadRequest, "invalid_json", "a merge patch must be a JSON object");
  return updateWith(id, ifMatch, [&](const model::SsoProvider& cur) -> Result<model::SsoProvider> {
    nlohmann::json doc = nlohmann::json::parse(model::toJson(cur).dump());
    doc.merge_patch(mergePatch);
    return model::decodeSsoProvider(doc);
  });
}

Status ProviderService::remove(const std::string& id, std::optional<uint64_t> ifMatch) {
  return store::casLoop(
      "SSO provider " + id, ifMatch, [&] { return load(id); },
      [](const model::SsoProvider& p) { return p.revision; },
      [&](const model::SsoProvider& cur) -> Status {
        // Routes live in another service, so this check and the delete cannot be
        // one transaction; route-registry refuses routes naming a missing
        // provider, which closes the window from the other side.
        auto routes = usage_.routesUsing(id);
        if (!routes) return routes.error();
        if (!routes.value().empty()) return inUse(id, routes.value());
        return kv_.removeIfRevision(providerKey(id), cur.revision);
      });
}

}  // namespace proxyos::sso
