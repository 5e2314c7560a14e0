// The auth service's directory over MemoryKvStore and FakeClock: users
// (username claims, passwords, the first admin, last-admin protection),
// groups, API tokens, the user/group/token models, and the REST handlers
// through http::Router with a fake authorize.
#include <gtest/gtest.h>

#include "directory_handlers.h"
#include "group_directory.h"
#include "shared/store/memory_kv_store.h"
#include "token_service.h"
#include "user_directory.h"

namespace proxyos::auth {
namespace {

// The cheapest parameters scrypt accepts: the tests check the logic, not the cost.
const crypto::ScryptParams kCheapScrypt{16, 1, 1};
const std::string kPassword = "correct horse battery";

/// A store that cannot answer at all (NATS down), reads included.
class DownKvStore final : public store::KvStore {
 public:
  Result<store::KvEntry> get(const std::string&) override { return down(); }
  Result<uint64_t> put(const std::string&, const std::string&) override { return down(); }
  Result<uint64_t> create(const std::string&, const std::string&) override { return down(); }
  Result<uint64_t> update(const std::string&, const std::string&, uint64_t) override { return down(); }
  Status remove(const std::string&) override { return down(); }
  Status removeIfRevision(const std::string&, uint64_t) override { return down(); }
  Result<std::vector<store::KvEntry>> snapshot(const std::string&) override { return down(); }
  Result<uint64_t> lastRevision() override { return down(); }

 private:
  static Error down() { return Error::make(ErrorKind::Unavailable, "nats_unavailable", "down"); }
};

class AuthDirectoryTest : public ::testing::Test {
 protected:
  model::NewUser newUser(std::string username, std::string role = "user", std::vector<std::string> groupNames = {}) {
    model::NewUser u;
    u.username = std::move(username);
    u.password = kPassword;
    u.role = std::move(role);
    u.groups = std::move(groupNames);
    return u;
  }
  model::User mustCreate(std::string username, std::string role = "user") {
    auto u = users.create(newUser(std::move(username), std::move(role)));
    EXPECT_TRUE(u.ok()) << u.error().message;
    return u.value();
  }
  std::string storedUserValue(const std::string& id) { return usersKv.get(userKey(id)).value().value; }

  FakeClock clock;
  store::MemoryKvStore usersKv{clock}, groupsKv{clock}, tokensKv{clock};
  GroupDirectory groups{groupsKv, clock};
  UserDirectory users{usersKv, groups, clock, kCheapScrypt};
  TokenService tokens{tokensKv, clock};
};

// ---------------------------------------------------------------------------
// Users

TEST_F(AuthDirectoryTest, CreateNormalizesAndNeverExposesThePassword) {
  auto u = mustCreate("Alice.Smith@Corp");
  EXPECT_EQ(u.username, "alice.smith@corp");
  EXPECT_EQ(u.id.size(), 26u);
  EXPECT_EQ(u.createdAt, "2026-01-01T00:00:00.000Z");
  const std::string api = model::toJson(u).dump();
  EXPECT_EQ(api.find("passwordHash"), std::string::npos);
  EXPECT_EQ(api.find(kPassword), std::string::npos);
  const std::string stored = storedUserValue(u.id);
  EXPECT_NE(stored.find("\"passwordHash\":\"scrypt$16$1$1$"), std::string::npos) << stored;
  EXPECT_EQ(stored.find(kPassword), std::string::npos);
  EXPECT_EQ(users.get(u.id).value(), u);
  EXPECT_EQ(users.findByUsername("ALICE.SMITH@corp").value().value(), u);
  EXPECT_FALSE(users.findByUsername("nobody").value().has_value());
}

TEST_F(AuthDirectoryTest, UsernamesAreUniqueCaseInsensitively) {
  mustCreate("alice");
  auto dup = users.create(newUser("ALICE"));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().kind, ErrorKind::Conflict);
  EXPECT_EQ(dup.error().code, "username_taken");
  EXPECT_EQ(dup.error().field, "username");
  EXPECT_EQ(users.list().value().size(), 1u);
}

TEST_F(AuthDirectoryTest, FailedUserWriteReleasesTheUsernameClaim) {
  const auto before = usersKv.keys();
  usersKv.failWrites(1, 1);  // the claim succeeds, the user write fails
  auto failed = users.create(newUser("bob"));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().kind, ErrorKind::Unavailable);
  EXPECT_EQ(usersKv.keys(), before) << "claim rolled back";
  EXPECT_TRUE(users.create(newUser("bob")).ok());
}

TEST_F(AuthDirectoryTest, OrphanUsernameClaimIsTakenOverOnlyWhenStale) {
  ASSERT_TRUE(usersKv.create(usernameClaimKey("bob"), "01deadwriter00000000000000").ok());
  EXPECT_EQ(users.create(newUser("bob")).error().code, "username_taken");
  clock.advance(kStaleUsernameClaimAge + std::chrono::seconds(1));
  EXPECT_TRUE(users.create(newUser("bob")).ok());
}

TEST_F(AuthDirectoryTest, CheckPassword) {
  auto u = mustCreate("carol");
  EXPECT_EQ(users.checkPassword("Carol", kPassword).value(), u);
  EXPECT_FALSE(users.checkPassword("carol", kPassword + "x").value().has_value());
  EXPECT_FALSE(users.checkPassword("dave", kPassword).value().has_value());
  EXPECT_FALSE(users.checkPassword("not a name!", kPassword).value().has_value());
  model::UserPatch disable;
  disable.disabled = true;
  ASSERT_TRUE(users.patch(u.id, disable, std::nullopt).ok());
  EXPECT_FALSE(users.checkPassword("carol", kPassword).value().has_value()) << "disabled users cannot log in";
}

TEST_F(AuthDirectoryTest, SetPasswordReplacesTheHash) {
  auto u = mustCreate("erin");
  auto weak = users.setPassword(u.id, "short");
  ASSERT_FALSE(weak.ok());
  EXPECT_EQ(weak.error().field, "password");
  ASSERT_TRUE(users.setPassword(u.id, "another long password").ok());
  EXPECT_FALSE(users.checkPassword("erin", kPassword).value().has_value());
  EXPECT_TRUE(users.checkPassword("erin", "another long password").value().has_value());
  EXPECT_EQ(users.setPassword("0000000000000000000000000z", kPassword).error().kind, ErrorKind::NotFound);
}

TEST_F(AuthDirectoryTest, EnsureInitialAdminCreatesOnceWithAGeneratedPassword) {
  auto first = users.ensureInitialAdmin("admin", "");
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(first.value().created);
  ASSERT_GE(first.value().generatedPassword.size(), 24u);
  auto admin = users.checkPassword("admin", first.value().generatedPassword).value();
  ASSERT_TRUE(admin.has_value());
  EXPECT_EQ(admin->role, "admin");
  EXPECT_EQ(storedUserValue(admin->id).find(first.value().generatedPassword), std::string::npos);

  auto second = users.ensureInitialAdmin("other", "a configured password");
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second.value().created);
  EXPECT_TRUE(second.value().generatedPassword.empty());
  EXPECT_EQ(users.list().value().size(), 1u);
}

TEST_F(AuthDirectoryTest, EnsureInitialAdminUsesAGivenPasswordAndChecksIt) {
  EXPECT_EQ(users.ensureInitialAdmin("root", "short").error().field, "password");
  auto made = users.ensureInitialAdmin("root", "a configured password").value();
  EXPECT_TRUE(made.created);
  EXPECT_TRUE(made.generatedPassword.empty());
  EXPECT_TRUE(users.checkPassword("root", "a configured password").value().has_value());
}

TEST_F(AuthDirectoryTest, GroupsMustExistWhenAddedButStaleOnesMayStay) {
  ASSERT_TRUE(groups.create(model::parseNewGroup(R"({"name":"Ops"})").value()).ok());
  auto bad = users.create(newUser("frank", "user", {"ops", "nope"}));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "unknown_group");
  EXPECT_EQ(bad.error().field, "groups[1]");
  EXPECT_EQ(bad.error().kind, ErrorKind::Invalid);

  auto u = users.create(newUser("frank", "user", {"OPS"})).value();
  EXPECT_EQ(u.groups, std::vector<std::string>{"ops"});
  ASSERT_TRUE(groups.remove("ops", std::nullopt).ok());
  model::UserPatch p;
  p.groups = std::vector<std::string>{"ops"};
  p.displayName = "Frank";
  EXPECT_TRUE(users.patch(u.id, p, std::nullopt).ok()) << "keeping a deleted group's name is allowed";
  p.groups = std::vector<std::string>{"ops", "dev"};
  EXPECT_EQ(users.patch(u.id, p, std::nullopt).error().field, "groups[1]");
}

TEST_F(AuthDirectoryTest, TheLastEnabledAdminIsProtected) {
  auto root = mustCreate("root", "admin");
  mustCreate("viewer", "viewer");
  EXPECT_EQ(users.remove(root.id, std::nullopt).error().code, "last_admin");
  model::UserPatch demote;
  demote.role = "viewer";
  EXPECT_EQ(users.patch(root.id, demote, std::nullopt).error().code, "last_admin");
  model::UserPatch disable;
  disable.disabled = true;
  EXPECT_EQ(users.patch(root.id, disable, std::nullopt).error().kind, ErrorKind::Conflict);

  auto second = mustCreate("second", "admin");
  EXPECT_EQ(users.remove(second.id, std::nullopt, second.id).error().code, "cannot_delete_self");
  ASSERT_TRUE(users.patch(second.id, disable, std::nullopt).ok());
  EXPECT_EQ(users.remove(root.id, std::nullopt).error().code, "last_admin") << "a disabled admin does not count";
  ASSERT_TRUE(users.remove(second.id, std::nullopt).ok()) << "a disabled admin may go";
  EXPECT_TRUE(users.get(root.id).ok());
}

TEST_F(AuthDirectoryTest, PatchHonoursIfMatchAndKeepsUsername) {
  auto u = mustCreate("gina");
  clock.advance(std::chrono::seconds(5));
  model::UserPatch p;
  p.email = "gina@example.com";
  p.username = "GINA";  // echoing the name back is fine
  auto patched = users.patch(u.id, p, u.revision).value();
  EXPECT_EQ(patched.email, "gina@example.com");
  EXPECT_EQ(patched.createdAt, u.createdAt);
  EXPECT_EQ(patched.updatedAt, "2026-01-01T00:00:05.000Z");
  EXPECT_EQ(users.patch(u.id, p, u.revision).error().kind, ErrorKind::PreconditionFailed);
  p.username = "other";
  EXPECT_EQ(users.patch(u.id, p, std::nullopt).error().code, "immutable_field");
  EXPECT_TRUE(users.checkPassword("gina", kPassword).value().has_value()) << "patch keeps the hash";
}

TEST_F(AuthDirectoryTest, RemoveReleasesTheUsername) {
  auto u = mustCreate("hank");
  EXPECT_EQ(users.remove(u.id, u.revision + 100).error().kind, ErrorKind::PreconditionFailed);
  ASSERT_TRUE(users.remove(u.id, u.revision).ok());
  EXPECT_EQ(users.get(u.id).error().kind, ErrorKind::NotFound);
  EXPECT_TRUE(usersKv.keys().empty());
  EXPECT_TRUE(users.create(newUser("hank")).ok());
}

// ---------------------------------------------------------------------------
// Models

TEST(DirectoryModelTest, NewUserIsDecodedStrictlyWithFieldPaths) {
  auto missing = model::parseNewUser(R"({"username":"a"})");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().field, "password");
  EXPECT_EQ(missing.error().code, "required");
  auto bad = model::parseNewUser(
      R"({"username":"a b","password":"short","email":"x@@y","groups":["ops","OPS","b/ad"],"role":"root","extra":1})");
  ASSERT_FALSE(bad.ok());
  std::vector<std::string> fields;
  for (const auto& d : bad.error().details) fields.push_back(d.field + ":" + d.code);
  EXPECT_EQ(fields, (std::vector<std::string>{"extra:unknown_field", "username:invalid_username",
                                              "password:weak_password", "email:invalid_email", "groups[1]:duplicate",
                                              "groups[2]:invalid_group", "role:invalid_enum"}));
  EXPECT_EQ(model::parseNewUser(R"({"username":"a","password":")" + std::string(1025, 'x') + "\"}").error().code,
            "invalid_password");
  auto ok = model::parseNewUser(R"({"username":"Bob","password":"twelve chars","email":"b@x.org"})").value();
  EXPECT_EQ(ok.username, "bob");
  EXPECT_EQ(ok.role, "user");
}

TEST(DirectoryModelTest, PatchRefusesPasswordAndAcceptsEchoedServerFields) {
  EXPECT_EQ(model::parseUserPatch(R"({"password":"a new password"})").error().code, "not_allowed");
  auto p = model::parseUserPatch(R"({"id":"x","revision":3,"createdAt":"t","role":"viewer","disabled":true})").value();
  EXPECT_EQ(p.role, "viewer");
  EXPECT_EQ(p.disabled, true);
  EXPECT_FALSE(p.groups.has_value());
  EXPECT_EQ(model::parseUserPatch(R"({"surname":"x"})").error().code, "unknown_field");
}

TEST(DirectoryModelTest, GroupAndTokenBodies) {
  EXPECT_EQ(model::parseNewGroup(R"({"name":"Dev-Team.1"})").value().name, "dev-team.1");
  EXPECT_EQ(model::parseNewGroup(R"({"name":"a b"})").error().field, "name");
  EXPECT_EQ(model::parseNewGroup(R"({"description":"x"})").error().code, "required");
  auto t = model::parseNewApiToken(R"({"name":"ci","role":"viewer","expiresInDays":30})").value();
  EXPECT_EQ(t.expiresInDays, 30);
  EXPECT_EQ(model::parseNewApiToken(R"({"name":"ci","role":"god"})").error().field, "role");
  EXPECT_EQ(model::parseNewApiToken(R"({"name":"ci","role":"user","expiresInDays":0})").error().field,
            "expiresInDays");
  EXPECT_EQ(model::parseNewApiToken(R"({"role":"user"})").error().field, "name");
}

// ---------------------------------------------------------------------------
// Groups

TEST_F(AuthDirectoryTest, GroupsAreUniqueAndListed) {
  ASSERT_TRUE(groups.create(model::parseNewGroup(R"({"name":"a.b","description":"dots"})").value()).ok());
  auto dup = groups.create(model::parseNewGroup(R"({"name":"A.B"})").value());
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, "group_exists");
  EXPECT_EQ(dup.error().field, "name");
  ASSERT_TRUE(groups.create(model::parseNewGroup(R"({"name":"ops"})").value()).ok());
  auto all = groups.list().value();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "a.b");
  EXPECT_EQ(all[0].description, "dots");
  EXPECT_TRUE(groups.exists("A.B").value());
  EXPECT_FALSE(groups.exists("nope").value());
  EXPECT_FALSE(groups.exists("no such/name").value());
  ASSERT_TRUE(groups.remove("a.b", std::nullopt).ok());
  EXPECT_EQ(groups.remove("a.b", std::nullopt).error().kind, ErrorKind::NotFound);
  model::Group direct;  // built in code, not decoded: the directory normalizes too
  direct.name = "Direct";
  EXPECT_EQ(groups.create(direct).value().name, "direct");
  direct.name = "not valid";
  EXPECT_EQ(groups.create(direct).error().field, "name");
}

// ---------------------------------------------------------------------------
// Tokens

TEST_F(AuthDirectoryTest, TokenVerifiesAndStoresOnlyTheHash) {
  auto created = tokens.create("ci deploy", "viewer", "creator01", std::nullopt).value();
  const std::string prefix = "pxat_" + created.token.id + ".";
  ASSERT_EQ(created.secret.rfind(prefix, 0), 0u);
  const std::string secretPart = created.secret.substr(prefix.size());
  EXPECT_EQ(secretPart.size(), 43u);
  const std::string stored = tokensKv.get(tokenKey(created.token.id)).value().value;
  EXPECT_EQ(stored.find(secretPart), std::string::npos);
  EXPECT_NE(stored.find("secretHash"), std::string::npos);
  const std::string listed = model::toJson(tokens.list().value().at(0)).dump();
  EXPECT_EQ(listed.find("secret"), std::string::npos);

  auto p = tokens.verify(created.secret).value();
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->userId, "creator01");
  EXPECT_EQ(p->username, "token:ci deploy");
  EXPECT_EQ(p->role, session::Role::Viewer);
  EXPECT_EQ(p->via, session::Principal::Via::Token);
  EXPECT_EQ(p->tokenId, created.token.id);
}

TEST_F(AuthDirectoryTest, BadTokensAreRefusedWithoutErrors) {
  auto created = tokens.create("ci", "admin", "creator01", std::nullopt).value();
  std::string wrong = created.secret;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  const std::string id = created.token.id;
  const std::vector<std::string> badTokens = {wrong,
                                              "",
                                              "pxat_",
                                              "pxat_" + id,
                                              "pxat_" + id + ".",
                                              "pxat_" + id + ".a+b",
                                              "pxat_" + id + "." + created.secret + "x",
                                              "xxxx_" + created.secret.substr(5),
                                              "pxat_zz.abc",
                                              "pxat_Bad/Id.abc",
                                              created.secret + std::string(200, 'a')};
  for (const auto& bad : badTokens) {
    auto r = tokens.verify(bad);
    ASSERT_TRUE(r.ok()) << bad;
    EXPECT_FALSE(r.value().has_value()) << bad;
  }
  ASSERT_TRUE(tokens.remove(id).ok());
  EXPECT_FALSE(tokens.verify(created.secret).value().has_value()) << "revoked";
  EXPECT_EQ(tokens.remove(id).error().kind, ErrorKind::NotFound);
}

TEST_F(AuthDirectoryTest, TokensExpire) {
  auto created = tokens.create("ci", "user", "creator01", 1).value();
  EXPECT_EQ(created.token.expiresAt, "2026-01-02T00:00:00.000Z");
  clock.advance(std::chrono::hours(23));
  EXPECT_TRUE(tokens.verify(created.secret).value().has_value());
  clock.advance(std::chrono::hours(1));
  EXPECT_FALSE(tokens.verify(created.secret).value().has_value());
}

TEST_F(AuthDirectoryTest, LastUsedIsRecordedAtMostOncePerMinute) {
  auto created = tokens.create("ci", "user", "creator01", std::nullopt).value();
  ASSERT_TRUE(tokens.verify(created.secret).value().has_value());
  auto first = tokens.list().value().at(0);
  EXPECT_EQ(first.lastUsedAt, "2026-01-01T00:00:00.000Z");
  clock.advance(std::chrono::seconds(59));
  ASSERT_TRUE(tokens.verify(created.secret).value().has_value());
  EXPECT_EQ(tokens.list().value().at(0).revision, first.revision);
  clock.advance(std::chrono::seconds(1));
  ASSERT_TRUE(tokens.verify(created.secret).value().has_value());
  EXPECT_EQ(tokens.list().value().at(0).lastUsedAt, "2026-01-01T00:01:00.000Z");
  tokensKv.failWrites(1);
  clock.advance(std::chrono::minutes(5));
  EXPECT_TRUE(tokens.verify(created.secret).value().has_value()) << "lastUsedAt is best effort";
}

TEST_F(AuthDirectoryTest, TokenStoreDownIsUnavailableNotDenied) {
  DownKvStore down;
  TokenService broken(down, clock);
  auto r = broken.verify("pxat_0000000000000000000000000z.abcd");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Unavailable);
  EXPECT_TRUE(broken.verify("garbage").value() == std::nullopt) << "malformed needs no store";
}

// ---------------------------------------------------------------------------
// Handlers through http::Router, with a fake authorize

class DirectoryHandlersTest : public AuthDirectoryTest {
 protected:
  DirectoryHandlersTest() {
    addDirectoryRoutes(router, users, groups, tokens, clock, [this](const http::Request&, bool write) {
      ++authorizeCalls;
      lastWrite = write;
      if (!caller) throw ErrorException(Error::make(ErrorKind::Unauthorized, "unauthenticated", "log in"));
      if (write && caller->role != session::Role::Admin)
        throw ErrorException(Error::make(ErrorKind::Forbidden, "forbidden", "admins only"));
      return *caller;
    });
    admin = mustCreate("root", "admin");
    caller = session::Principal{admin.id, admin.username, session::Role::Admin, session::Principal::Via::Cookie,
                                "sid", ""};
  }

  http::Response call(std::string method, std::string path, std::string body = "",
                      std::map<std::string, std::string> headers = {}) {
    http::Request req;
    req.method = std::move(method);
    req.path = std::move(path);
    req.body = std::move(body);
    req.headers = std::move(headers);
    return router.dispatch(req);
  }
  static std::string header(const http::Response& r, const std::string& name) {
    for (const auto& [k, v] : r.headers)
      if (k == name) return v;
    return "";
  }

  http::Router router;
  model::User admin;
  std::optional<session::Principal> caller;
  int authorizeCalls = 0;
  bool lastWrite = false;
};

TEST_F(DirectoryHandlersTest, EveryEndpointAuthorizesFirstAndOnlyGetsAreReads) {
  const std::string id = admin.id;
  caller.reset();
  const std::vector<std::pair<std::string, std::string>> endpoints = {
      {"GET", "/api/auth/users"},          {"POST", "/api/auth/users"},      {"GET", "/api/auth/users/" + id},
      {"PATCH", "/api/auth/users/" + id},  {"DELETE", "/api/auth/users/" + id},
      {"POST", "/api/auth/users/" + id + "/password"},
      {"GET", "/api/auth/groups"},         {"POST", "/api/auth/groups"},     {"DELETE", "/api/auth/groups/ops"},
      {"GET", "/api/auth/tokens"},         {"POST", "/api/auth/tokens"},     {"DELETE", "/api/auth/tokens/" + id}};
  for (const auto& [method, path] : endpoints) {
    const int before = authorizeCalls;
    EXPECT_EQ(call(method, path, "not json").status, 401) << method << " " << path;
    EXPECT_EQ(authorizeCalls, before + 1) << method << " " << path;
    EXPECT_EQ(lastWrite, method != "GET") << method << " " << path;
  }
  EXPECT_TRUE(users.get(id).ok());
}

TEST_F(DirectoryHandlersTest, ViewerMayReadButNotWrite) {
  caller->role = session::Role::Viewer;
  EXPECT_EQ(call("GET", "/api/auth/users").status, 200);
  auto denied = call("POST", "/api/auth/users", R"({"username":"eve","password":"twelve chars!"})");
  EXPECT_EQ(denied.status, 403);
  EXPECT_FALSE(users.findByUsername("eve").value().has_value());
  EXPECT_EQ(call("POST", "/api/auth/tokens", R"({"name":"x","role":"admin"})").status, 403);
  EXPECT_EQ(call("POST", "/api/auth/users/" + admin.id + "/password", R"({"password":"twelve chars!"})").status, 403);
  EXPECT_TRUE(tokens.list().value().empty());
}

TEST_F(DirectoryHandlersTest, UserLifecycleNeverShowsPasswords) {
  auto created = call("POST", "/api/auth/users", R"({"username":"Ivy","password":"ivy's long password"})");
  ASSERT_EQ(created.status, 201) << created.body;
  auto body = nlohmann::json::parse(created.body);
  const std::string id = body["id"];
  EXPECT_EQ(body["username"], "ivy");
  EXPECT_EQ(header(created, "ETag"), http::etag(body["revision"].get<uint64_t>()));
  EXPECT_EQ(header(created, "Location"), "/api/auth/users/" + id);
  for (const auto& r : {created, call("GET", "/api/auth/users"), call("GET", "/api/auth/users/" + id)}) {
    EXPECT_EQ(r.body.find("passwordHash"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("ivy's long password"), std::string::npos) << r.body;
  }
  EXPECT_EQ(call("PATCH", "/api/auth/users/" + id, R"({"role":"viewer"})", {{"if-match", "\"1\""}}).status, 412);
  auto patched = call("PATCH", "/api/auth/users/" + id, R"({"role":"viewer"})",
                      {{"if-match", header(created, "ETag")}});
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(nlohmann::json::parse(patched.body)["role"], "viewer");

  auto pw = call("POST", "/api/auth/users/" + id + "/password", R"({"password":"a brand new password"})");
  ASSERT_EQ(pw.status, 200) << pw.body;
  EXPECT_EQ(pw.body.find("a brand new password"), std::string::npos);
  EXPECT_TRUE(users.checkPassword("ivy", "a brand new password").value().has_value());
  EXPECT_EQ(call("POST", "/api/auth/users/" + id + "/password", R"({"password":"short"})").status, 422);

  EXPECT_EQ(call("DELETE", "/api/auth/users/" + id).status, 204);
  EXPECT_EQ(call("GET", "/api/auth/users/" + id).status, 404);
}

TEST_F(DirectoryHandlersTest, ConflictsAndValidationErrorsNameTheField) {
  auto dup = call("POST", "/api/auth/users", R"({"username":"ROOT","password":"twelve chars!"})");
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(nlohmann::json::parse(dup.body)["error"]["field"], "username");
  auto unknown = call("POST", "/api/auth/users", R"({"username":"j","password":"twelve chars!","groups":["x"]})");
  EXPECT_EQ(unknown.status, 422);
  EXPECT_EQ(nlohmann::json::parse(unknown.body)["error"]["code"], "unknown_group");
  EXPECT_EQ(nlohmann::json::parse(unknown.body)["error"]["field"], "groups[0]");
  auto self = call("DELETE", "/api/auth/users/" + admin.id);
  EXPECT_EQ(self.status, 409);
  caller->userId = "someone-else";
  auto last = call("DELETE", "/api/auth/users/" + admin.id);
  EXPECT_EQ(last.status, 409);
  EXPECT_EQ(nlohmann::json::parse(last.body)["error"]["code"], "last_admin");
}

TEST_F(DirectoryHandlersTest, GroupsAndTokensEndpoints) {
  EXPECT_EQ(call("POST", "/api/auth/groups", R"({"name":"Ops"})").status, 201);
  EXPECT_EQ(call("POST", "/api/auth/groups", R"({"name":"ops"})").status, 409);
  EXPECT_EQ(nlohmann::json::parse(call("GET", "/api/auth/groups").body)["groups"][0]["name"], "ops");
  EXPECT_EQ(call("DELETE", "/api/auth/groups/ops").status, 204);
  EXPECT_EQ(call("DELETE", "/api/auth/groups/ops").status, 404);

  auto created = call("POST", "/api/auth/tokens", R"({"name":"ci","role":"viewer","expiresInDays":7})");
  ASSERT_EQ(created.status, 201) << created.body;
  auto body = nlohmann::json::parse(created.body);
  const std::string secret = body["secret"];
  EXPECT_EQ(body["userId"], admin.id);
  auto p = tokens.verify(secret).value();
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->role, session::Role::Viewer);
  auto listed = call("GET", "/api/auth/tokens");
  EXPECT_EQ(listed.body.find("secret"), std::string::npos) << listed.body;
  EXPECT_EQ(nlohmann::json::parse(listed.body)["tokens"].size(), 1u);
  EXPECT_EQ(call("DELETE", "/api/auth/tokens/" + body["id"].get<std::string>()).status, 204);
  EXPECT_FALSE(tokens.verify(secret).value().has_value());
}

}  // namespace
}  // namespace proxyos::auth
