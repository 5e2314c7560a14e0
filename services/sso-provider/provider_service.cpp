#include "provider_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "shared/core/id.h"
#include "shared/core/time_format.h"
#include "shared/store/cas_loop.h"

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
  auto entry = kv_.get(providerKey(id));
  if (!entry) return entry.error().kind == ErrorKind::NotFound ? notFound(id) : entry.error();
  auto provider = model::parseSsoProvider(entry.value().value);
  if (!provider) {
    spdlog::error("stored SSO provider {} does not decode: {}", id, provider.error().message);
    return Error::make(ErrorKind::Internal, "corrupt_provider", "stored SSO provider " + id + " does not decode");
  }
  provider.value().id = id;
  provider.value().revision = entry.value().revision;
  return provider;
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
  auto entries = kv_.snapshot(std::string(kKeyPrefix) + "*");
  if (!entries) return entries.error();
  std::vector<model::SsoProvider> out;
  for (const auto& e : entries.value()) {
    auto provider = model::parseSsoProvider(e.value);
    if (!provider) {
      spdlog::error("skipping stored SSO provider {} that does not decode: {}", e.key, provider.error().message);
      continue;
    }
    auto& p = provider.value();
    p.id = e.key.substr(std::string(kKeyPrefix).size());
    p.revision = e.revision;
    out.push_back(std::move(p));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
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
