#pragma once
// Domain+path uniqueness across any number of registry processes.
//
// Each (domain, pathPrefix) a route serves is a create-only key
// `claim.<base64url(domain " " pathPrefix)>` holding the route id, in the same
// bucket as the routes. Creating the key is the atomic test-and-set; whoever
// loses gets Conflict and names the holder. Claims are released with a
// compare-and-set delete so a writer only ever removes its own claim. A claim
// whose route never appeared (a writer died between claim and write) is taken
// over once it is older than kStaleClaimAge.
#include <chrono>
#include <string>
#include <vector>

#include "shared/core/clock.h"
#include "shared/model/route.h"
#include "shared/store/kv_store.h"

namespace proxyos::registry {

inline constexpr std::chrono::seconds kStaleClaimAge{30};

struct Claim {
  std::string domain;
  std::string pathPrefix;
  size_t domainIndex = 0;  // index into route.domains, for error fields
  std::string key() const;
  bool operator==(const Claim& o) const { return domain == o.domain && pathPrefix == o.pathPrefix; }
};

std::vector<Claim> claimsOf(const model::Route& route);
/// Routes live at "route.<id>" in proxyos-routes.
inline constexpr const char* kRoutePrefix = "route.";
std::string routeKey(const std::string& id);

/// Claims taken by one write; released on rollback.
class ClaimSet {
 public:
  ClaimSet(store::KvStore& kv, const Clock& clock) : kv_(kv), clock_(clock) {}
  /// Takes every claim for `routeId` or none: on failure the ones taken are
  /// released. A claim held by another live route is Conflict naming it.
  Status acquire(const std::string& routeId, const std::vector<Claim>& claims);
  /// Releases what acquire() took (after a failed write).
  void rollback();

 private:
  Status acquireOne(const std::string& routeId, const Claim& claim);
  store::KvStore& kv_;
  const Clock& clock_;
  std::vector<std::pair<std::string, uint64_t>> taken_;  // key, revision
};

/// Releases claims `routeId` holds (those no longer in its route); best effort,
/// a claim already taken over by someone else is left alone.
void releaseClaims(store::KvStore& kv, const std::string& routeId, const std::vector<Claim>& claims);

}  // namespace proxyos::registry
