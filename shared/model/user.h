#pragma once
// The User resource of the auth service's built-in directory (ARCHITECTURE.md
// §4 auth): who may log in to the dashboard and through the built-in SSO
// provider. The API JSON never carries a password or its hash; the auth
// service stores the hash beside these fields in its own bucket only.
//
// The role is kept as a validated string ("admin" | "viewer" | "user") rather
// than session::Role so that proxyos::model never depends on proxyos::session
// (which may come to depend on the models: no cycle).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "shared/core/error.h"
#include "shared/model/json_reader.h"

namespace proxyos::model {

inline constexpr std::size_t kMaxUsernameChars = 64;
inline constexpr std::size_t kMinPasswordChars = 12;
inline constexpr std::size_t kMaxPasswordBytes = 1024;
inline constexpr std::size_t kMaxEmailBytes = 254;
inline constexpr std::size_t kMaxDisplayNameChars = 128;
inline constexpr std::size_t kMaxGroupNameChars = 64;
inline constexpr std::size_t kMaxUserGroups = 256;

/// One account of the built-in directory. Fields as in the REST JSON.
struct User {
  std::string id;
  std::string username;     // lower-case [a-z0-9._@-]{1,64}, immutable
  std::string email;        // "" = none
  std::string displayName;  // "" = none
  std::vector<std::string> groups;  // lower-case group names
  std::string role = "user";        // "admin" | "viewer" | "user"
  bool disabled = false;
  std::uint64_t revision = 0;
  std::string createdAt;
  std::string updatedAt;

  bool operator==(const User&) const = default;
};

/// The body of POST /api/auth/users.
struct NewUser {
  std::string username;
  std::string password;
  std::string email;
  std::string displayName;
  std::vector<std::string> groups;
  std::string role = "user";
};

/// The body of PATCH /api/auth/users/{id}: only present fields change.
/// `username` is accepted so a client may send back what it read, but the
/// directory refuses a different value (usernames are immutable).
struct UserPatch {
  std::optional<std::string> username;
  std::optional<std::string> email;
  std::optional<std::string> displayName;
  std::optional<std::vector<std::string>> groups;
  std::optional<std::string> role;
  std::optional<bool> disabled;
};

/// True for "admin", "viewer" and "user" (mirrors session::Role's names).
bool isValidRoleName(std::string_view role);

/// Lower-cases ASCII and checks [a-z0-9._@-]{1,64}; nullopt when invalid.
std::optional<std::string> normalizeUsername(std::string_view username);
/// Lower-cases ASCII and checks [a-z0-9._-]{1,64} (users' groups and Group
/// names share it); nullopt when invalid.
std::optional<std::string> normalizeGroupName(std::string_view name);

/// Parses / decodes the create body strictly (unknown fields are errors);
/// username and group names come back lower-cased. 422 with `field` set, every
/// problem in `details`.
Result<NewUser> parseNewUser(std::string_view body);
Result<NewUser> decodeNewUser(const nlohmann::json& j);

/// Parses / decodes a PATCH body. Server-managed fields a client echoes back
/// (id, revision, createdAt, updatedAt) are accepted and ignored; `password`
/// is refused with a pointer to the password endpoint.
Result<UserPatch> parseUserPatch(std::string_view body);
Result<UserPatch> decodeUserPatch(const nlohmann::json& j);

/// Parses the body of POST /api/auth/users/{id}/password: {"password": "..."}.
Result<std::string> parsePasswordChange(std::string_view body);

/// Decodes a whole User (every field, strictly), e.g. the stored form once
/// the auth service has taken its own fields out.
Result<User> decodeUser(const nlohmann::json& j, const std::string& pathPrefix = "");

/// The user as JSON, every field present, in a stable order. No password hash.
nlohmann::ordered_json toJson(const User& u);

// Field rules, shared with Group and ApiToken and re-run by the auth service
// on values it builds itself. Each records problems at `field` in `errors`.
void validatePassword(const std::string& password, const std::string& field, ErrorCollector& errors);
void validateEmail(const std::string& email, const std::string& field, ErrorCollector& errors);
void validateRoleName(const std::string& role, const std::string& field, ErrorCollector& errors);
/// Lower-cases every name in place; checks [a-z0-9._-]{1,64} and duplicates
/// (reported at "<field>[i]").
void normalizeGroupNames(std::vector<std::string>& groups, const std::string& field, ErrorCollector& errors);
/// A human-readable one-line text: at most `maxChars` characters, no control
/// characters (they would forge log lines and break headers like X-Auth-User).
void validateText(const std::string& text, std::size_t maxChars, const std::string& field, ErrorCollector& errors);

}  // namespace proxyos::model
