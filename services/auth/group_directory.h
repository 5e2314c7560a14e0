#pragma once
// The groups of the built-in directory over the proxyos-groups bucket.
//
// A group is the key `group.<base64url(name)>` (names may hold '.', which
// splits NATS subject tokens, so the name is encoded). Creating that key
// create-only is the uniqueness check, so replicas cannot both create a group.
// Removing a group leaves its name on users: a stale name grants nothing that
// a route does not also name, and re-creating the group restores it.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shared/core/clock.h"
#include "shared/model/group.h"
#include "shared/store/kv_store.h"

namespace proxyos::auth {

/// The proxyos-groups KV key of a (normalized) group name.
std::string groupKey(const std::string& name);

/// Create, list, remove and look up groups. No HTTP here.
class GroupDirectory {
 public:
  GroupDirectory(store::KvStore& kv, const Clock& clock) : kv_(kv), clock_(clock) {}

  /// `draft` is decoded (model::parseNewGroup). 409 `group_exists` naming "name".
  Result<model::Group> create(model::Group draft);
  /// Names are compared lower-cased. 404 `group_not_found`.
  Result<model::Group> get(const std::string& name);
  /// Sorted by name.
  Result<std::vector<model::Group>> list();
  /// With `ifMatch`, the stored revision must equal it (else 412).
  Status remove(const std::string& name, std::optional<uint64_t> ifMatch);
  /// False for a name that is not a valid group name; an error only when the
  /// store cannot answer.
  Result<bool> exists(const std::string& name);

 private:
  store::KvStore& kv_;
  const Clock& clock_;
};

}  // namespace proxyos::auth
