#pragma once
// The Group resource of the auth service's built-in directory: a name users
// are put in, which routes' `accessosGroups` and the built-in provider's
// X-Auth-Groups header refer to. Identified by its name (DELETE
// /api/auth/groups/{name}); names are lower-case so "Ops" and "ops" are one.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "shared/core/error.h"

namespace proxyos::model {

inline constexpr std::size_t kMaxGroupDescriptionChars = 256;

/// One group. Fields as in the REST JSON.
struct Group {
  std::string name;  // lower-case [a-z0-9._-]{1,64}, see normalizeGroupName()
  std::string description;
  std::uint64_t revision = 0;
  std::string createdAt;
  std::string updatedAt;

  bool operator==(const Group&) const = default;
};

/// Parses / decodes the body of POST /api/auth/groups: {name, description?},
/// strictly. The name comes back lower-cased.
Result<Group> parseNewGroup(std::string_view body);
Result<Group> decodeNewGroup(const nlohmann::json& j);

/// Decodes a whole Group (every field, strictly), e.g. the stored form.
Result<Group> decodeGroup(const nlohmann::json& j);

/// The group as JSON, every field present, in a stable order.
nlohmann::ordered_json toJson(const Group& g);

}  // namespace proxyos::model
