#pragma once
// The users of the built-in directory over the proxyos-users bucket.
//
// Layout: `user.<id>` holds the user's JSON plus "passwordHash" (scrypt, see
// shared/crypto/scrypt.h); the API JSON (model::toJson) never carries it.
// `username.<base64url(username)>` is a create-only claim holding the id:
// creating it is the atomic uniqueness check across replicas, as route claims
// are in route-registry. A claim whose user never appeared (its writer died
// between claim and write) is taken over once older than
// kStaleUsernameClaimAge. Updates are compare-and-set on the entry revision.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "group_directory.h"
#include "shared/core/clock.h"
#include "shared/crypto/scrypt.h"
#include "shared/model/user.h"
#include "shared/store/kv_store.h"

namespace proxyos::auth {

inline constexpr std::chrono::seconds kStaleUsernameClaimAge{30};

std::string userKey(const std::string& id);
/// The claim key of a normalized username.
std::string usernameClaimKey(const std::string& username);

/// What ensureInitialAdmin() did.
struct InitialAdmin {
  bool created = false;
  /// Set when an admin was created with a generated password: the caller
  /// prints it once; it is stored nowhere but as a hash.
  std::string generatedPassword;
};

/// Create, read, list, patch and delete users; passwords; the first admin.
/// No HTTP here: handlers call this, unit tests drive it with MemoryKvStore.
class UserDirectory {
 public:
  /// `scrypt` is the cost for new hashes (tests pass a cheap one); existing
  /// hashes verify with the parameters they were made with. Hashes one dummy
  /// password up front; throws std::invalid_argument for invalid `scrypt`.
  UserDirectory(store::KvStore& kv, GroupDirectory& groups, const Clock& clock, crypto::ScryptParams scrypt = {});

  /// `draft` as model::parseNewUser() yields it (re-checked here). 409
  /// `username_taken` (field "username"); 422 `unknown_group` at "groups[i]".
  Result<model::User> create(const model::NewUser& draft);
  Result<model::User> get(const std::string& id);
  /// nullopt when no user has that name (compared lower-cased).
  Result<std::optional<model::User>> findByUsername(const std::string& username);
  /// Sorted by username.
  Result<std::vector<model::User>> list();
  /// Applies the present fields. With `ifMatch`, the stored revision must
  /// equal it (412). Demoting or disabling the last enabled admin: 409 `last_admin`.
  Result<model::User> patch(const std::string& id, const model::UserPatch& patch, std::optional<uint64_t> ifMatch);
  /// Deletes the user and releases the username. `actorUserId` is the caller:
  /// deleting oneself is 409 `cannot_delete_self`, the last enabled admin 409 `last_admin`.
  Status remove(const std::string& id, std::optional<uint64_t> ifMatch, const std::string& actorUserId = "");
  /// Replaces the password hash (422 at "password" for a weak password).
  Result<model::User> setPassword(const std::string& id, const std::string& password,
                                  std::optional<uint64_t> ifMatch = std::nullopt);
  /// The user when `password` is theirs and they are not disabled; nullopt
  /// otherwise. Runs scrypt exactly once whether or not the username exists
  /// (a fixed dummy hash stands in), so timing does not reveal usernames.
  Result<std::optional<model::User>> checkPassword(const std::string& username, const std::string& password);
  /// When the directory has no user at all, creates `username` as admin with
  /// `password`, or with a generated one when `password` is empty. Another
  /// replica winning the same race counts as "not created".
  Result<InitialAdmin> ensureInitialAdmin(const std::string& username, const std::string& password);

 private:
  struct Stored {
    model::User user;
    std::string passwordHash;
  };
  /// Edits `next` (a copy of `current`); an error aborts the update.
  using Mutation = std::function<Status(Stored& next, const Stored& current)>;

  /// Corrupt entries are Internal `corrupt_user` (logged); list() skips them.
  static Result<Stored> decode(const store::KvEntry& entry, const std::string& id);
  Result<Stored> load(const std::string& id);
  Result<std::optional<Stored>> findStored(const std::string& normalizedUsername);
  Result<std::vector<Stored>> loadAll();
  /// The one compare-and-set loop behind patch and setPassword.
  Result<model::User> updateWith(const std::string& id, std::optional<uint64_t> ifMatch, const Mutation& mutate);
  /// 422 `unknown_group` for names in `groups` that are neither in `kept` nor exist.
  Status checkGroupsExist(const std::vector<std::string>& groups, const std::vector<std::string>& kept);
  /// 409 `last_admin` unless an enabled admin other than `id` exists.
  Status checkAnotherAdmin(const std::string& id);
  /// Takes the username claim for `id`; returns the claim's revision.
  Result<uint64_t> claimUsername(const std::string& username, const std::string& id);
  void releaseUsername(const std::string& username, const std::string& id);
  Result<std::string> hash(const std::string& password) const;

  store::KvStore& kv_;
  GroupDirectory& groups_;
  const Clock& clock_;
  crypto::ScryptParams scrypt_;
  std::string dummyHash_;  // verified against for unknown usernames
};

}  // namespace proxyos::auth
