#include "shared/model/group.h"

#include "shared/model/json_reader.h"
#include "shared/model/user.h"

namespace proxyos::model {

namespace {

// `full`: the stored form, which also carries the server-managed fields.
Result<Group> decode(const nlohmann::json& j, bool full) {
  ErrorCollector errors;
  if (!j.is_object()) {
    errors.add("", "invalid_type", "expected a JSON object");
    return errors.toError();
  }
  Group g;
  JsonObjectReader in(j, "", errors);
  const bool hasName = in.readString("name", g.name);
  in.readString("description", g.description);
  if (full) {
    in.readUint64("revision", g.revision);
    in.readString("createdAt", g.createdAt);
    in.readString("updatedAt", g.updatedAt);
  }
  in.finish();

  if (hasName) {
    if (auto normalized = normalizeGroupName(g.name))
      g.name = *normalized;
    else
      errors.add("name", "invalid_group", "must be 1-64 characters of a-z, 0-9, '.', '_' and '-'");
  } else if (!errors.hasErrorAt("name")) {
    errors.add("name", "required", "is required");
  }
  if (!errors.hasErrorAt("description")) validateText(g.description, kMaxGroupDescriptionChars, "description", errors);
  if (!errors.empty()) return errors.toError();
  return g;
}

}  // namespace

Result<Group> decodeNewGroup(const nlohmann::json& j) { return decode(j, false); }

Result<Group> parseNewGroup(std::string_view body) {
  auto document = parseJsonObject(body);
  if (!document) return document.error();
  return decodeNewGroup(document.value());
}

Result<Group> decodeGroup(const nlohmann::json& j) { return decode(j, true); }

nlohmann::ordered_json toJson(const Group& g) {
  nlohmann::ordered_json j;
  j["name"] = g.name;
  j["description"] = g.description;
  j["revision"] = g.revision;
  j["createdAt"] = g.createdAt;
  j["updatedAt"] = g.updatedAt;
  return j;
}

}  // namespace proxyos::model
