#include "shared/model/api_token.h"

#include "shared/model/json_reader.h"
#include "shared/model/user.h"

namespace proxyos::model {

namespace {

void validateName(const std::string& name, bool present, ErrorCollector& errors) {
  if (errors.hasErrorAt("name")) return;
  if (!present || name.empty()) return errors.add("name", "required", "is required");
  validateText(name, kMaxTokenNameChars, "name", errors);
}

void validateRole(const std::string& role, bool present, ErrorCollector& errors) {
  if (errors.hasErrorAt("role")) return;
  if (!present) return errors.add("role", "required", "is required");
  validateRoleName(role, "role", errors);
}

}  // namespace

Result<NewApiToken> decodeNewApiToken(const nlohmann::json& j) {
  ErrorCollector errors;
  if (!j.is_object()) {
    errors.add("", "invalid_type", "expected a JSON object");
    return errors.toError();
  }
  NewApiToken t;
  JsonObjectReader in(j, "", errors);
  const bool hasName = in.readString("name", t.name);
  const bool hasRole = in.readString("role", t.role);
  std::int64_t days = 0;
  if (in.readInt64("expiresInDays", days)) {
    if (days < 1 || days > kMaxTokenDays)
      errors.add("expiresInDays", "invalid_value", "must be 1-3650 days; omit it for a token that never expires");
    else
      t.expiresInDays = days;
  }
  in.finish();
  validateName(t.name, hasName, errors);
  validateRole(t.role, hasRole, errors);
  if (!errors.empty()) return errors.toError();
  return t;
}

Result<NewApiToken> parseNewApiToken(std::string_view body) {
  auto document = parseJsonObject(body);
  if (!document) return document.error();
  return decodeNewApiToken(document.value());
}

Result<ApiToken> decodeApiToken(const nlohmann::json& j) {
  ErrorCollector errors;
  if (!j.is_object()) {
    errors.add("", "invalid_type", "expected a JSON object");
    return errors.toError();
  }
  ApiToken t;
  JsonObjectReader in(j, "", errors);
  in.readString("id", t.id);
  const bool hasName = in.readString("name", t.name);
  const bool hasRole = in.readString("role", t.role);
  in.readString("userId", t.userId);
  in.readString("createdAt", t.createdAt);
  in.readString("expiresAt", t.expiresAt);
  in.readString("lastUsedAt", t.lastUsedAt);
  in.readUint64("revision", t.revision);
  in.finish();
  validateName(t.name, hasName, errors);
  validateRole(t.role, hasRole, errors);
  if (!errors.empty()) return errors.toError();
  return t;
}

nlohmann::ordered_json toJson(const ApiToken& t) {
  nlohmann::ordered_json j;
  j["id"] = t.id;
  j["name"] = t.name;
  j["role"] = t.role;
  j["userId"] = t.userId;
  j["createdAt"] = t.createdAt;
  j["expiresAt"] = t.expiresAt;
  j["lastUsedAt"] = t.lastUsedAt;
  j["revision"] = t.revision;
  return j;
}

}  // namespace proxyos::model
