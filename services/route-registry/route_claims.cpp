#include "route_claims.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace proxyos::registry {

std::string Claim::key() const { return "claim." + store::encodeKeyPart(domain + " " + pathPrefix); }

std::string routeKey(const std::string& id) { return kRoutePrefix + id; }

std::vector<Claim> claimsOf(const model::Route& route) {
  std::vector<Claim> out;
  for (size_t i = 0; i < route.domains.size(); ++i) out.push_back({route.domains[i], route.pathPrefix, i});
  return out;
}

Status ClaimSet::acquire(const std::string& routeId, const std::vector<Claim>& claims) {
  for (const auto& c : claims) {
    auto s = acquireOne(routeId, c);
    if (!s) {
      rollback();
      return s;
    }
  }
  return okStatus();
}

Status ClaimSet::acquireOne(const std::string& routeId, const Claim& claim) {
  const std::string key = claim.key();
  const std::string field = "domains[" + std::to_string(claim.domainIndex) + "]";
  // Two rounds: a lost takeover race re-reads the new holder once.
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto created = kv_.create(key, routeId);
    if (created) {
      taken_.emplace_back(key, created.value());
      return okStatus();
    }
    if (created.error().kind != ErrorKind::Conflict) return created.error();

    auto holder = kv_.get(key);
    if (!holder) {
      if (holder.error().kind == ErrorKind::NotFound) continue;  // released meanwhile: try again
      return holder.error();
    }
    const std::string& holderId = holder.value().value;
    if (holderId == routeId) return okStatus();  // already ours (an update keeping the domain)

    std::string holderName;
    bool holderServesIt = false;
    auto holderRoute = kv_.get(routeKey(holderId));
    if (holderRoute) {
      auto decoded = model::parseRoute(holderRoute.value().value, {});
      if (decoded) {
        holderName = decoded.value().name;
        const auto held = claimsOf(decoded.value());
        holderServesIt = std::find(held.begin(), held.end(), claim) != held.end();
      } else {
        holderServesIt = true;  // cannot tell: never steal from a route we cannot read
      }
    } else if (holderRoute.error().kind != ErrorKind::NotFound) {
      return holderRoute.error();
    }
    const bool stale = !holderServesIt && clock_.now() - holder.value().created > kStaleClaimAge;
    if (!stale) {
      std::string msg = claim.domain + claim.pathPrefix + " is already served by route " + holderId;
      if (!holderName.empty()) msg += " (" + holderName + ")";
      return Error{ErrorKind::Conflict, "domain_conflict", msg, field, {}};
    }
    auto took = kv_.update(key, routeId, holder.value().revision);
    if (took) {
      spdlog::warn("took over stale claim for {}{} from route {}", claim.domain, claim.pathPrefix, holderId);
      taken_.emplace_back(key, took.value());
      return okStatus();
    }
    if (took.error().kind != ErrorKind::PreconditionFailed) return took.error();
  }
  return Error{ErrorKind::Conflict, "domain_conflict",
               claim.domain + claim.pathPrefix + " is being claimed by another write; try again", field, {}};
}

void ClaimSet::rollback() {
  for (const auto& [key, rev] : taken_) {
    auto s = kv_.removeIfRevision(key, rev);
    if (!s && s.error().kind != ErrorKind::PreconditionFailed)
      spdlog::warn("could not release claim after a failed write ({}); it becomes stale and is reclaimable",
                   s.error().message);
  }
  taken_.clear();
}

void releaseClaims(store::KvStore& kv, const std::string& routeId, const std::vector<Claim>& claims) {
  for (const auto& c : claims) {
    auto held = kv.get(c.key());
    if (!held || held.value().value != routeId) continue;
    auto s = kv.removeIfRevision(c.key(), held.value().revision);
    if (!s && s.error().kind != ErrorKind::PreconditionFailed)
      spdlog::warn("could not release claim for {}{}: {}", c.domain, c.pathPrefix, s.error().message);
  }
}

}  // namespace proxyos::registry
