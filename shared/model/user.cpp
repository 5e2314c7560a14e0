#include "shared/model/user.h"
#include "shared/model/text.h"

#include <algorithm>
#include <map>

#include "shared/model/hostname.h"

namespace proxyos::model {

namespace {

bool isUsernameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' || c == '-';
}

bool isGroupNameChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'; }

void checkUsername(std::string& username, const std::string& field, ErrorCollector& errors) {
  if (auto normalized = normalizeUsername(username))
    username = *normalized;
  else
    errors.add(field, "invalid_username", "must be 1-64 characters of a-z, 0-9, '.', '_', '@' and '-'");
}

}  // namespace

bool isValidRoleName(std::string_view role) { return role == "admin" || role == "viewer" || role == "user"; }

std::optional<std::string> normalizeUsername(std::string_view username) {
  std::string lower = toLowerAscii(std::string(username));
  if (lower.empty() || lower.size() > kMaxUsernameChars) return std::nullopt;
  if (!std::all_of(lower.begin(), lower.end(), isUsernameChar)) return std::nullopt;
  return lower;
}

std::optional<std::string> normalizeGroupName(std::string_view name) {
  std::string lower = toLowerAscii(std::string(name));
  if (lower.empty() || lower.size() > kMaxGroupNameChars) return std::nullopt;
  if (!std::all_of(lower.begin(), lower.end(), isGroupNameChar)) return std::nullopt;
  return lower;
}

void validatePassword(const std::string& password, const std::string& field, ErrorCollector& errors) {
  // The upper bound keeps one login from costing more than scrypt's fixed work
  // (the password is hashed once up front, but parsing and copying still scale).
  if (password.size() > kMaxPasswordBytes)
    errors.add(field, "invalid_password", "must be at most 1024 bytes");
  else if (utf8Length(password) < kMinPasswordChars)
    errors.add(field, "weak_password", "must be at least 12 characters");
}

void validateEmail(const std::string& email, const std::string& field, ErrorCollector& errors) {
  if (email.empty()) return;  // optional
  const auto at = email.find('@');
  const bool oneAt = at != std::string::npos && email.find('@', at + 1) == std::string::npos;
  const bool noSpace = std::none_of(email.begin(), email.end(), [](char c) { return c == ' ' || c == '\t'; });
  if (email.size() > kMaxEmailBytes)
    errors.add(field, "invalid_email", "must be at most 254 characters");
  else if (!oneAt || at == 0 || at + 1 == email.size() || !noSpace || hasControlChar(email))
    errors.add(field, "invalid_email", "must look like name@example.com (one '@', no spaces)");
}

void validateRoleName(const std::string& role, const std::string& field, ErrorCollector& errors) {
  if (!isValidRoleName(role)) errors.add(field, "invalid_enum", "must be one of \"admin\", \"viewer\", \"user\"");
}

void normalizeGroupNames(std::vector<std::string>& groups, const std::string& field, ErrorCollector& errors) {
  if (groups.size() > kMaxUserGroups) return errors.add(field, "too_many", "at most 256 groups are allowed");
  std::map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const std::string item = indexPath(field, i);
    auto normalized = normalizeGroupName(groups[i]);
    if (!normalized) {
      errors.add(item, "invalid_group", "must be 1-64 characters of a-z, 0-9, '.', '_' and '-'");
      continue;
    }
    groups[i] = *normalized;
    // Names compare lower-cased, so "Ops" and "ops" are the same group.
    auto [it, fresh] = seen.emplace(groups[i], i);
    if (!fresh) errors.add(item, "duplicate", "duplicates " + indexPath(field, it->second));
  }
}

void validateText(const std::string& text, std::size_t maxChars, const std::string& field, ErrorCollector& errors) {
  if (utf8Length(text) > maxChars)
    errors.add(field, "invalid_value", "must be at most " + std::to_string(maxChars) + " characters");
  else if (hasControlChar(text))
    errors.add(field, "invalid_value", "must not contain control characters");
}

// ---------------------------------------------------------------------------
// Decoding

Result<NewUser> decodeNewUser(const nlohmann::json& j) {
  ErrorCollector errors;
  if (!j.is_object()) {
    errors.add("", "invalid_type", "expected a JSON object");
    return errors.toError();
  }
  NewUser u;
  JsonObjectReader in(j, "", errors);
  const bool hasUsername = in.readString("username", u.username);
  const bool hasPassword = in.readString("password", u.password);
  in.readString("email", u.email);
  in.readString("displayName", u.displayName);
  const bool hasGroups = in.readStringArray("groups", u.groups);
  const bool hasRole = in.readString("role", u.role);
  in.finish();

  if (hasUsername)
    checkUsername(u.username, "username", errors);
  else if (!errors.hasErrorAt("username"))
    errors.add("username", "required", "is required");
  if (hasPassword)
    validatePassword(u.password, "password", errors);
  else if (!errors.hasErrorAt("password"))
    errors.add("password", "required", "is required");
  if (!errors.hasErrorAt("email")) validateEmail(u.email, "email", errors);
  if (!errors.hasErrorAt("displayName")) validateText(u.displayName, kMaxDisplayNameChars, "displayName", errors);
  if (hasGroups) normalizeGroupNames(u.groups, "groups", errors);
  if (hasRole) validateRoleName(u.role, "role", errors);
  if (!errors.empty()) return errors.toError();
  return u;
}

Result<NewUser> parseNewUser(std::string_view body) {
  auto document = parseJsonObject(body);
  if (!document) return document.error();
  return decodeNewUser(document.value());
}

Result<UserPatch> decodeUserPatch(const nlohmann::json& j) {
  ErrorCollector errors;
  if (!j.is_object()) {
    errors.add("", "invalid_type", "expected a JSON object");
    return errors.toError();
  }
  UserPatch p;
  JsonObjectReader in(j, "", errors);
  std::string text;
  std::vector<std::string> groups;
  bool flag = false;
  if (in.readString("username", text)) {
    checkUsername(text, "username", errors);
    p.username = text;
  }
  if (in.has("password"))
    errors.add("password", "not_allowed", "cannot be changed here; use POST /api/auth/users/{id}/password");
  if (in.readString("email", text)) {
    validateEmail(text, "email", errors);
    p.email = text;
  }
  if (in.readString("displayName", text)) {
    validateText(text, kMaxDisplayNameChars, "displayName", errors);
    p.displayName = text;
  }
  if (in.readStringArray("groups", groups)) {
    normalizeGroupNames(groups, "groups", errors);
    p.groups = groups;
  }
  if (in.readString("role", text)) {
    validateRoleName(text, "role", errors);
    p.role = text;
  }
  if (in.readBool("disabled", flag)) p.disabled = flag;
  // Echoed server-managed fields: type-checked, then ignored.
  std::uint64_t revision = 0;
  in.readString("id", text);
  in.readUint64("revision", revision);
  in.readString("createdAt", text);
  in.readString("updatedAt", text);
  in.finish();
  if (!errors.empty()) return errors.toError();
  return p;
}

Result<UserPatch> parseUserPatch(std::string_view body) {
  auto document = parseJsonObject(body);
  if (!document) return document.error();
  return decodeUserPatch(document.value());
}

Result<std::string> parsePasswordChange(std::string_view body) {
  auto document = parseJsonObject(body);
  if (!document) return document.error();
  ErrorCollector errors;
  std::string password;
  JsonObjectReader in(document.value(), "", errors);
  const bool has = in.readString("password", password);
  in.finish();
  if (has)
    validatePassword(password, "password", errors);
  else if (!errors.hasErrorAt("password"))
    errors.add("password", "required", "is required");
  if (!errors.empty()) return errors.toError();
  return password;
}

Result<User> decodeUser(const nlohmann::json& j, const std::string& pathPrefix) {
  ErrorCollector errors;
  if (!j.is_object()) {
    errors.add(pathPrefix, "invalid_type", "expected a JSON object");
    return errors.toError();
  }
  User u;
  JsonObjectReader in(j, pathPrefix, errors);
  in.readString("id", u.id);
  const bool hasUsername = in.readString("username", u.username);
  in.readString("email", u.email);
  in.readString("displayName", u.displayName);
  in.readStringArray("groups", u.groups);
  in.readString("role", u.role);
  in.readBool("disabled", u.disabled);
  in.readUint64("revision", u.revision);
  in.readString("createdAt", u.createdAt);
  in.readString("updatedAt", u.updatedAt);
  in.finish();

  const std::string usernamePath = in.pathOf("username");
  if (hasUsername)
    checkUsername(u.username, usernamePath, errors);
  else if (!errors.hasErrorAt(usernamePath))
    errors.add(usernamePath, "required", "is required");
  if (!errors.hasErrorAt(in.pathOf("email"))) validateEmail(u.email, in.pathOf("email"), errors);
  if (!errors.hasErrorAt(in.pathOf("groups"))) normalizeGroupNames(u.groups, in.pathOf("groups"), errors);
  if (!errors.hasErrorAt(in.pathOf("role"))) validateRoleName(u.role, in.pathOf("role"), errors);
  if (!errors.empty()) return errors.toError();
  return u;
}

nlohmann::ordered_json toJson(const User& u) {
  nlohmann::ordered_json j;
  j["id"] = u.id;
  j["username"] = u.username;
  j["email"] = u.email;
  j["displayName"] = u.displayName;
  j["groups"] = u.groups;
  j["role"] = u.role;
  j["disabled"] = u.disabled;
  j["revision"] = u.revision;
  j["createdAt"] = u.createdAt;
  j["updatedAt"] = u.updatedAt;
  return j;
}

}  // namespace proxyos::model
