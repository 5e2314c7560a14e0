#include "user_directory.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

#include "shared/core/id.h"
#include "shared/core/time_format.h"
#include "shared/store/cas_loop.h"
#include "shared/crypto/random.h"
#include "shared/model/json_reader.h"

namespace proxyos::auth {

namespace {

Error notFound(const std::string& id) {
  return Error::make(ErrorKind::NotFound, "user_not_found", "no user with id " + id);
}

Error usernameTaken(const std::string& name) {
  return Error{ErrorKind::Conflict, "username_taken", "username: \"" + name + "\" is already taken", "username", {}};
}

bool isEnabledAdmin(const model::User& u) { return u.role == "admin" && !u.disabled; }

// Re-runs the model's field rules on a user built in code (patch results,
// ensureInitialAdmin's draft), so every write path obeys the same rules.
void validateFields(model::User& u, model::ErrorCollector& errors) {
  if (auto normalized = model::normalizeUsername(u.username))
    u.username = *normalized;
  else
    errors.add("username", "invalid_username", "must be 1-64 characters of a-z, 0-9, '.', '_', '@' and '-'");
  model::validateEmail(u.email, "email", errors);
  model::validateText(u.displayName, model::kMaxDisplayNameChars, "displayName", errors);
  model::normalizeGroupNames(u.groups, "groups", errors);
  model::validateRoleName(u.role, "role", errors);
}

// The stored form: the API JSON plus "passwordHash"; the revision is the entry's.
std::string encodeStored(const model::User& u, const std::string& passwordHash) {
  auto j = model::toJson(u);
  j.erase("revision");
  j["passwordHash"] = passwordHash;
  return j.dump();
}

}  // namespace

std::string userKey(const std::string& id) { return "user." + id; }

std::string usernameClaimKey(const std::string& username) {
  // '@' and '.' are legal in usernames but not as plain KV key characters.
  return "username." + store::encodeKeyPart(username);
}

UserDirectory::UserDirectory(store::KvStore& kv, GroupDirectory& groups, const Clock& clock,
                             crypto::ScryptParams scrypt)
    : kv_(kv), groups_(groups), clock_(clock), scrypt_(scrypt),
      dummyHash_(crypto::hashPassword(crypto::randomToken(), scrypt)) {}

Result<std::string> UserDirectory::hash(const std::string& password) const {
  try {
    return crypto::hashPassword(password, scrypt_);
  } catch (const std::exception& e) {
    return Error::make(ErrorKind::Internal, "password_hash_failed", std::string("cannot hash password: ") + e.what());
  }
}

// ---------------------------------------------------------------------------
// Storage

Result<UserDirectory::Stored> UserDirectory::decode(const store::KvEntry& entry, const std::string& id) {
  const auto corrupt = Error::make(ErrorKind::Internal, "corrupt_user", "stored user " + id + " does not decode");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(entry.value);
  } catch (const nlohmann::json::parse_error&) {
    spdlog::error("stored user {} is not JSON", id);
    return corrupt;
  }
  Stored s;
  if (j.is_object() && j.contains("passwordHash")) {
    if (j["passwordHash"].is_string()) s.passwordHash = j["passwordHash"].get<std::string>();
    j.erase("passwordHash");
  }
  auto user = model::decodeUser(j);
  if (!user) {
    spdlog::error("stored user {} does not decode: {}", id, user.error().message);
    return corrupt;
  }
  s.user = std::move(user.value());
  s.user.id = id;
  s.user.revision = entry.revision;
  return s;
}

Result<UserDirectory::Stored> UserDirectory::load(const std::string& id) {
  if (!isValidId(id)) return notFound(id);
  auto entry = kv_.get(userKey(id));
  if (!entry) return entry.error().kind == ErrorKind::NotFound ? notFound(id) : entry.error();
  return decode(entry.value(), id);
}

Result<std::vector<UserDirectory::Stored>> UserDirectory::loadAll() {
  auto entries = kv_.snapshot("user.*");
  if (!entries) return entries.error();
  std::vector<Stored> out;
  for (const auto& e : entries.value())
    if (auto s = decode(e, e.key.substr(std::string("user.").size()))) out.push_back(std::move(s.value()));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.user.username < b.user.username; });
  return out;
}

Result<std::optional<UserDirectory::Stored>> UserDirectory::findStored(const std::string& normalizedUsername) {
  using Found = std::optional<Stored>;
  auto claim = kv_.get(usernameClaimKey(normalizedUsername));
  if (!claim) return claim.error().kind == ErrorKind::NotFound ? Result<Found>(Found{}) : claim.error();
  auto s = load(claim.value().value);
  if (!s) return s.error().kind == ErrorKind::NotFound ? Result<Found>(Found{}) : s.error();
  // An orphan claim whose id was reused cannot happen (ids are random), but a
  // claim must only ever resolve to the user that carries that name.
  if (s.value().user.username != normalizedUsername) return Found{};
  return Found{std::move(s.value())};
}

// ---------------------------------------------------------------------------
// Username claims

Result<uint64_t> UserDirectory::claimUsername(const std::string& username, const std::string& id) {
  const std::string key = usernameClaimKey(username);
  // Two rounds: a lost takeover race re-reads the new holder once.
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto created = kv_.create(key, id);
    if (created) return created.value();
    if (created.error().kind != ErrorKind::Conflict) return created.error();

    auto holder = kv_.get(key);
    if (!holder) {
      if (holder.error().kind == ErrorKind::NotFound) continue;  // released meanwhile
      return holder.error();
    }
    if (holder.value().value == id) return holder.value().revision;

    auto holderUser = load(holder.value().value);
    bool holderHasIt = true;  // cannot tell (corrupt): never steal from it
    if (holderUser)
      holderHasIt = holderUser.value().user.username == username;
    else if (holderUser.error().kind == ErrorKind::NotFound)
      holderHasIt = false;
    else if (holderUser.error().kind != ErrorKind::Internal)
      return holderUser.error();
    const bool stale = !holderHasIt && clock_.now() - holder.value().created > kStaleUsernameClaimAge;
    if (!stale) return usernameTaken(username);
    auto took = kv_.update(key, id, holder.value().revision);
    if (took) {
      spdlog::warn("took over a stale claim on username {} from {}", username, holder.value().value);
      return took.value();
    }
    if (took.error().kind != ErrorKind::PreconditionFailed) return took.error();
  }
  return usernameTaken(username);
}

void UserDirectory::releaseUsername(const std::string& username, const std::string& id) {
  auto held = kv_.get(usernameClaimKey(username));
  if (!held || held.value().value != id) return;  // someone else's now
  auto s = kv_.removeIfRevision(usernameClaimKey(username), held.value().revision);
  if (!s && s.error().kind != ErrorKind::PreconditionFailed)
    spdlog::warn("could not release username {} ({}); it becomes stale and reclaimable", username, s.error().message);
}

// ---------------------------------------------------------------------------
// Checks that need other records

Status UserDirectory::checkGroupsExist(const std::vector<std::string>& groups, const std::vector<std::string>& kept) {
  model::ErrorCollector errors;
  for (size_t i = 0; i < groups.size(); ++i) {
    // A name the user already had may belong to a deleted group: keep it.
    if (std::find(kept.begin(), kept.end(), groups[i]) != kept.end()) continue;
    auto exists = groups_.exists(groups[i]);
    if (!exists) return exists.error();
    if (!exists.value())
      errors.add(model::indexPath("groups", i), "unknown_group", "no group named \"" + groups[i] + "\"; create it first");
  }
  if (!errors.empty()) return errors.toError();
  return okStatus();
}

Status UserDirectory::checkAnotherAdmin(const std::string& id) {
  // Read-then-write: two admins demoting each other at the same instant on two
  // replicas could both pass. KV has no multi-key transaction; accepted.
  auto all = loadAll();
  if (!all) return all.error();
  for (const auto& s : all.value())
    if (s.user.id != id && isEnabledAdmin(s.user)) return okStatus();
  return Error::make(ErrorKind::Conflict, "last_admin",
                     "this is the last enabled admin; make another user an admin first");
}

// ---------------------------------------------------------------------------
// Operations

Result<model::User> UserDirectory::create(const model::NewUser& draft) {
  Stored s;
  auto& u = s.user;
  u.username = draft.username;
  u.email = draft.email;
  u.displayName = draft.displayName;
  u.groups = draft.groups;
  u.role = draft.role;
  model::ErrorCollector errors;
  validateFields(u, errors);
  model::validatePassword(draft.password, "password", errors);
  if (!errors.empty()) return errors.toError();
  if (auto s2 = checkGroupsExist(u.groups, {}); !s2) return s2.error();

  u.id = newId(clock_);
  u.createdAt = u.updatedAt = formatTime(clock_.now());
  // Hash before claiming: the claim is held for as short a time as possible.
  auto hashed = hash(draft.password);
  if (!hashed) return hashed.error();
  s.passwordHash = std::move(hashed.value());

  auto claim = claimUsername(u.username, u.id);
  if (!claim) return claim.error();
  auto rev = kv_.create(userKey(u.id), encodeStored(u, s.passwordHash));
  if (!rev) {
    auto released = kv_.removeIfRevision(usernameClaimKey(u.username), claim.value());
    if (!released && released.error().kind != ErrorKind::PreconditionFailed)
      spdlog::warn("could not release username {} after a failed write; it becomes stale and reclaimable",
                   u.username);
    return rev.error();
  }
  u.revision = rev.value();
  return u;
}

Result<model::User> UserDirectory::get(const std::string& id) {
  auto s = load(id);
  return s ? Result<model::User>(std::move(s.value().user)) : s.error();
}

Result<std::optional<model::User>> UserDirectory::findByUsername(const std::string& username) {
  using Found = std::optional<model::User>;
  const auto normalized = model::normalizeUsername(username);
  if (!normalized) return Found{};
  auto s = findStored(*normalized);
  if (!s) return s.error();
  if (!s.value()) return Found{};
  return Found{std::move(s.value()->user)};
}

Result<std::vector<model::User>> UserDirectory::list() {
  auto all = loadAll();
  if (!all) return all.error();
  std::vector<model::User> out;
  out.reserve(all.value().size());
  for (auto& s : all.value()) out.push_back(std::move(s.user));
  return out;
}

Result<model::User> UserDirectory::updateWith(const std::string& id, std::optional<uint64_t> ifMatch,
                                              const Mutation& mutate) {
  return store::casLoop(
      "user " + id, ifMatch, [&] { return load(id); }, [](const Stored& st) { return st.user.revision; },
      [&](const Stored& cur) -> Result<model::User> {
        Stored next = cur;
        if (auto s = mutate(next, cur); !s) return s.error();
        next.user.id = id;
        next.user.username = cur.user.username;
        next.user.createdAt = cur.user.createdAt;
        next.user.updatedAt = formatTime(clock_.now());
        auto rev = kv_.update(userKey(id), encodeStored(next.user, next.passwordHash), cur.user.revision);
        if (!rev) return rev.error();
        next.user.revision = rev.value();
        return next.user;
      });
}

Result<model::User> UserDirectory::patch(const std::string& id, const model::UserPatch& p,
                                         std::optional<uint64_t> ifMatch) {
  return updateWith(id, ifMatch, [&](Stored& next, const Stored& cur) -> Status {
    auto& u = next.user;
    if (p.username && model::normalizeUsername(*p.username) != cur.user.username)
      return Error::invalid("username", "username: cannot be changed; create a new user instead", "immutable_field");
    if (p.email) u.email = *p.email;
    if (p.displayName) u.displayName = *p.displayName;
    if (p.groups) u.groups = *p.groups;
    if (p.role) u.role = *p.role;
    if (p.disabled) u.disabled = *p.disabled;
    model::ErrorCollector errors;
    validateFields(u, errors);
    if (!errors.empty()) return errors.toError();
    if (p.groups)
      if (auto s = checkGroupsExist(u.groups, cur.user.groups); !s) return s;
    if (isEnabledAdmin(cur.user) && !isEnabledAdmin(u)) return checkAnotherAdmin(id);
    return okStatus();
  });
}

Status UserDirectory::remove(const std::string& id, std::optional<uint64_t> ifMatch, const std::string& actorUserId) {
  if (!actorUserId.empty() && actorUserId == id)
    return Error::make(ErrorKind::Conflict, "cannot_delete_self", "you cannot delete your own account");
  return store::casLoop(
      "user " + id, ifMatch, [&] { return load(id); }, [](const Stored& st) { return st.user.revision; },
      [&](const Stored& current) -> Status {
        const auto& cur = current.user;
        if (isEnabledAdmin(cur))
          if (auto s = checkAnotherAdmin(id); !s) return s;
        if (auto s = kv_.removeIfRevision(userKey(id), cur.revision); !s) return s;
        releaseUsername(cur.username, id);
        return okStatus();
      });
}

Result<model::User> UserDirectory::setPassword(const std::string& id, const std::string& password,
                                               std::optional<uint64_t> ifMatch) {
  model::ErrorCollector errors;
  model::validatePassword(password, "password", errors);
  if (!errors.empty()) return errors.toError();
  // Hash once, outside the compare-and-set loop: a retry must not pay scrypt again.
  auto hashed = hash(password);
  if (!hashed) return hashed.error();
  return updateWith(id, ifMatch, [&](Stored& next, const Stored&) -> Status {
    next.passwordHash = hashed.value();
    return okStatus();
  });
}

Result<std::optional<model::User>> UserDirectory::checkPassword(const std::string& username,
                                                                const std::string& password) {
  using Found = std::optional<model::User>;
  std::optional<Stored> found;
  if (auto normalized = model::normalizeUsername(username)) {
    auto s = findStored(*normalized);
    if (!s) return s.error();  // store down: fail closed, timing is moot
    found = std::move(s.value());
  }
  const bool hasHash = found && !found->passwordHash.empty();
  // Exactly one scrypt on every path, and the outcome is decided only after it.
  const bool match = crypto::verifyPassword(password, hasHash ? found->passwordHash : dummyHash_);
  if (!hasHash || !match || found->user.disabled) return Found{};
  return Found{std::move(found->user)};
}

Result<InitialAdmin> UserDirectory::ensureInitialAdmin(const std::string& username, const std::string& password) {
  auto existing = kv_.snapshot("user.*");
  if (!existing) return existing.error();
  if (!existing.value().empty()) return InitialAdmin{};

  InitialAdmin result;
  model::NewUser draft;
  draft.username = username;
  draft.role = "admin";
  if (password.empty()) {
    // 18 random bytes: 24 base64url characters, 144 bits.
    draft.password = crypto::randomToken(18);
    result.generatedPassword = draft.password;
  } else {
    draft.password = password;
  }
  auto created = create(draft);
  if (!created) {
    if (created.error().code == "username_taken") return InitialAdmin{};  // another replica won the race
    return created.error();
  }
  result.created = true;
  return result;
}

}  // namespace proxyos::auth
