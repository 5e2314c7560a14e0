#include "route_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "route_claims.h"
#include "shared/core/id.h"
#include "shared/core/time_format.h"
#include "shared/model/hostname.h"
#include "shared/model/sso_loop.h"
#include "shared/store/cas_loop.h"
#include "shared/store/stored_resource.h"

namespace proxyos::registry {

namespace {

Error notFound(const std::string& id) {
  return Error::make(ErrorKind::NotFound, "route_not_found", "no route with id " + id);
}

std::vector<Claim> minus(const std::vector<Claim>& a, const std::vector<Claim>& b) {
  std::vector<Claim> out;
  for (const auto& c : a)
    if (std::find(b.begin(), b.end(), c) == b.end()) out.push_back(c);
  return out;
}

}  // namespace

RouteService::RouteService(store::KvStore& kv, ProviderDirectory& providers, const Clock& clock,
                           model::RouteValidationContext validation)
    : kv_(kv), providers_(providers), clock_(clock), validation_(std::move(validation)) {}

Status RouteService::checkSso(const model::Route& r, const std::string& fieldPrefix) {
  if (r.ssoProviderId.empty()) return okStatus();
  auto provider = providers_.find(r.ssoProviderId);
  if (!provider) return provider.error();
  if (!provider.value())
    return Error{ErrorKind::Invalid, "unknown_provider",
                 "ssoProviderId: no SSO provider with id " + r.ssoProviderId, fieldPrefix + "ssoProviderId", {}};
  if (!r.ssoEnabled) return okStatus();
  if (auto loop = model::findSsoLoop(r.domains, provider.value()->forwardAuthUrl, provider.value()->loginUrl))
    return Error{ErrorKind::Invalid, "sso_redirect_loop", loop->message,
                 fieldPrefix + "domains[" + std::to_string(loop->domainIndex) + "]", {}};
  return okStatus();
}

std::string RouteService::encode(const model::Route& r) const {
  auto j = model::toJson(r);
  j.erase("revision");  // the revision is the KV entry's, never stored in the value
  return j.dump();
}

Result<model::Route> RouteService::load(const std::string& id) {
  if (!isValidId(id)) return notFound(id);
  return store::readStored<model::Route>(kv_, kRoutePrefix, id, "route",
                                         [](const std::string& v) { return model::parseRoute(v, {}); }, notFound(id));
}

Result<model::Route> RouteService::create(model::Route draft) {
  if (draft.id.empty() || !isValidId(draft.id)) draft.id = newId(clock_);
  draft.createdAt = draft.updatedAt = formatTime(clock_.now());
  if (auto s = checkSso(draft); !s) return s.error();
  ClaimSet claims(kv_, clock_);
  if (auto s = claims.acquire(draft.id, claimsOf(draft)); !s) return s.error();
  auto rev = kv_.create(routeKey(draft.id), encode(draft));
  if (!rev) {
    claims.rollback();
    if (rev.error().kind == ErrorKind::Conflict)
      return Error{ErrorKind::Conflict, "route_exists", "a route with id " + draft.id + " already exists", "id", {}};
    return rev.error();
  }
  draft.revision = rev.value();
  return draft;
}

Result<model::Route> RouteService::get(const std::string& id) { return load(id); }

Result<std::vector<model::Route>> RouteService::list(const RouteFilter& filter) {
  auto all = store::listStored<model::Route>(kv_, kRoutePrefix, "route",
                                             [](const std::string& v) { return model::parseRoute(v, {}); });
  if (!all) return all.error();
  const std::string domain = model::toLowerAscii(filter.domain);
  std::vector<model::Route> out;
  for (auto& r : all.value()) {
    if (!domain.empty() && std::find(r.domains.begin(), r.domains.end(), domain) == r.domains.end()) continue;
    if (!filter.ssoProviderId.empty() && r.ssoProviderId != filter.ssoProviderId) continue;
    out.push_back(std::move(r));
  }
  return out;
}

Result<model::Route> RouteService::updateWith(const std::string& id, std::optional<uint64_t> ifMatch,
                                              const Builder& build) {
  return store::casLoop(
      "route " + id, ifMatch, [&] { return load(id); }, [](const model::Route& r) { return r.revision; },
      [&](const model::Route& cur) -> Result<model::Route> {
        auto next = build(cur);
        if (!next) return next.error();
        model::Route updated = std::move(next.value());
        updated.id = id;
        updated.createdAt = cur.createdAt;
        updated.updatedAt = formatTime(clock_.now());
        if (auto s = checkSso(updated); !s) return s.error();

        const auto oldClaims = claimsOf(cur), newClaims = claimsOf(updated);
        ClaimSet claims(kv_, clock_);
        if (auto s = claims.acquire(id, minus(newClaims, oldClaims)); !s) return s.error();
        auto rev = kv_.update(routeKey(id), encode(updated), cur.revision);
        if (!rev) {
          claims.rollback();
          return rev.error();
        }
        releaseClaims(kv_, id, minus(oldClaims, newClaims));
        updated.revision = rev.value();
        return updated;
      });
}

Result<model::Route> RouteService::replace(const std::string& id, model::Route draft, std::optional<uint64_t> ifMatch) {
  if (!draft.id.empty() && draft.id != id)
    return Error{ErrorKind::Invalid, "id_mismatch", "id in the body (" + draft.id + ") differs from the URL", "id", {}};
  return updateWith(id, ifMatch, [&](const model::Route&) -> Result<model::Route> { return draft; });
}

Result<model::Route> RouteService::patch(const std::string& id, const nlohmann::json& mergePatch,
                                         std::optional<uint64_t> ifMatch) {
  if (!mergePatch.is_object())
    return Error::make(ErrorKind::BadRequest, "invalid_json", "a merge patch must be a JSON object");
  return updateWith(id, ifMatch, [&](const model::Route& cur) -> Result<model::Route> {
    nlohmann::json doc = nlohmann::json::parse(model::toJson(cur).dump());
    doc.merge_patch(mergePatch);
    return model::decodeRoute(doc, validation_);
  });
}

Status RouteService::remove(const std::string& id, std::optional<uint64_t> ifMatch) {
  return store::casLoop(
      "route " + id, ifMatch, [&] { return load(id); }, [](const model::Route& r) { return r.revision; },
      [&](const model::Route& cur) -> Status {
        if (auto s = kv_.removeIfRevision(routeKey(id), cur.revision); !s) return s;
        releaseClaims(kv_, id, claimsOf(cur));
        return okStatus();
      });
}

Result<std::vector<ImportItemResult>> RouteService::importRoutes(const nlohmann::json& document) {
  if (!document.is_object() || !document.contains("routes") || !document["routes"].is_array())
    return Error{ErrorKind::Invalid, "invalid_type", "routes: expected {\"routes\": [ ... ]}", "routes", {}};
  for (const auto& [key, _] : document.items())
    if (key != "routes" && key != "version" && key != "exportedAt")
      return Error{ErrorKind::Invalid, "unknown_field", key + ": unknown field", key, {}};
  const auto& items = document["routes"];

  // 1. Decode and validate every item; any error rejects the whole import.
  std::vector<model::Route> routes;
  std::vector<Error> errors;
  for (size_t i = 0; i < items.size(); ++i) {
    auto r = model::decodeRoute(items[i], validation_, "routes[" + std::to_string(i) + "]");
    if (!r) {
      for (const auto& d : r.error().details.empty() ? std::vector<Error>{r.error()} : r.error().details)
        errors.push_back(d);
      continue;
    }
    if (auto s = checkSso(r.value(), "routes[" + std::to_string(i) + "]."); !s) {
      if (s.error().kind != ErrorKind::Invalid) return s.error();
      errors.push_back(s.error());
    }
    routes.push_back(std::move(r.value()));
  }
  // 2. Claims must be unique within the document and free (or held by the same id) in the store.
  std::map<std::string, std::pair<size_t, std::string>> seen;  // claim key -> (item index, id)
  for (size_t i = 0; errors.empty() && i < routes.size(); ++i) {
    for (const auto& c : claimsOf(routes[i])) {
      const std::string field = "routes[" + std::to_string(i) + "].domains[" + std::to_string(c.domainIndex) + "]";
      auto [it, fresh] = seen.emplace(c.key(), std::make_pair(i, routes[i].id));
      if (!fresh) {
        errors.push_back(Error{ErrorKind::Invalid, "duplicate",
                               field + ": " + c.domain + c.pathPrefix + " is also claimed by routes[" +
                                   std::to_string(it->second.first) + "]",
                               field, {}});
        continue;
      }
      auto held = kv_.get(c.key());
      if (!held) {
        if (held.error().kind != ErrorKind::NotFound) return held.error();
        continue;
      }
      if (held.value().value != routes[i].id && kv_.get(routeKey(held.value().value)))
        errors.push_back(Error{ErrorKind::Conflict, "domain_conflict",
                               field + ": " + c.domain + c.pathPrefix + " is already served by route " +
                                   held.value().value,
                               field, {}});
    }
  }
  if (!errors.empty()) {
    Error first = errors.front();
    first.details = errors;
    return first;
  }
  // 3. Write: update routes whose id exists, create the rest.
  std::vector<ImportItemResult> results;
  for (size_t i = 0; i < routes.size(); ++i) {
    ImportItemResult res{i, routes[i].id, "", std::nullopt};
    Result<model::Route> written = Error{};
    const bool exists = !routes[i].id.empty() && isValidId(routes[i].id) && kv_.get(routeKey(routes[i].id));
    if (exists) {
      written = replace(routes[i].id, routes[i], std::nullopt);
      res.status = "updated";
    } else {
      written = create(routes[i]);
      res.status = "created";
    }
    if (written) {
      res.id = written.value().id;
    } else {
      res.status = "failed";
      res.error = written.error();
    }
    results.push_back(std::move(res));
  }
  return results;
}

Result<uint64_t> RouteService::configRevision() { return kv_.lastRevision(); }

}  // namespace proxyos::registry
