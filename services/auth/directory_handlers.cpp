#include "directory_handlers.h"

#include <memory>

#include "shared/model/json_reader.h"

namespace proxyos::auth {

namespace {

http::Response userResponse(int status, const model::User& u) {
  return http::Response::json(status, model::toJson(u)).header("ETag", http::etag(u.revision));
}

template <class T>
nlohmann::ordered_json jsonArray(const std::vector<T>& items) {
  auto arr = nlohmann::ordered_json::array();
  for (const auto& item : items) arr.push_back(model::toJson(item));
  return arr;
}

// authorize() already requires a writer for write=true; setting another
// user's password is an admin act even if a future authorize lets more roles
// write, so it is checked here by name.
void requireAdmin(const session::Principal& p) {
  if (p.role != session::Role::Admin)
    throw ErrorException(Error::make(ErrorKind::Forbidden, "forbidden", "only admins may set passwords"));
}

}  // namespace

void addDirectoryRoutes(http::Router& r, UserDirectory& users, GroupDirectory& groups, TokenService& tokens,
                        const Clock& /*clock: timestamps come from the directories' own clock*/,
                        Authorize authorize) {
  // One copy shared by every handler.
  auto auth = std::make_shared<Authorize>(std::move(authorize));

  // Users ------------------------------------------------------------------
  r.add("GET", "/api/auth/users", [auth, &users](const http::Request& req) {
    (*auth)(req, false);
    return http::Response::json(200, {{"users", jsonArray(users.list().orThrow())}});
  });
  r.add("POST", "/api/auth/users", [auth, &users](const http::Request& req) {
    (*auth)(req, true);
    auto draft = model::parseNewUser(req.body).orThrow();
    auto created = users.create(draft).orThrow();
    return userResponse(201, created).header("Location", "/api/auth/users/" + created.id);
  });
  r.add("GET", "/api/auth/users/{id}", [auth, &users](const http::Request& req) {
    (*auth)(req, false);
    return userResponse(200, users.get(req.param("id")).orThrow());
  });
  r.add("PATCH", "/api/auth/users/{id}", [auth, &users](const http::Request& req) {
    (*auth)(req, true);
    auto ifMatch = http::ifMatchRevision(req);
    auto patch = model::parseUserPatch(req.body).orThrow();
    return userResponse(200, users.patch(req.param("id"), patch, ifMatch).orThrow());
  });
  r.add("DELETE", "/api/auth/users/{id}", [auth, &users](const http::Request& req) {
    const auto caller = (*auth)(req, true);
    auto ifMatch = http::ifMatchRevision(req);
    users.remove(req.param("id"), ifMatch, caller.userId).orThrow();
    return http::Response::noContent();
  });
  r.add("POST", "/api/auth/users/{id}/password", [auth, &users](const http::Request& req) {
    requireAdmin((*auth)(req, true));
    auto ifMatch = http::ifMatchRevision(req);
    auto password = model::parsePasswordChange(req.body).orThrow();
    return userResponse(200, users.setPassword(req.param("id"), password, ifMatch).orThrow());
  });

  // Groups -----------------------------------------------------------------
  r.add("GET", "/api/auth/groups", [auth, &groups](const http::Request& req) {
    (*auth)(req, false);
    return http::Response::json(200, {{"groups", jsonArray(groups.list().orThrow())}});
  });
  r.add("POST", "/api/auth/groups", [auth, &groups](const http::Request& req) {
    (*auth)(req, true);
    auto draft = model::parseNewGroup(req.body).orThrow();
    auto created = groups.create(std::move(draft)).orThrow();
    return http::Response::json(201, model::toJson(created))
        .header("ETag", http::etag(created.revision))
        .header("Location", "/api/auth/groups/" + created.name);
  });
  r.add("DELETE", "/api/auth/groups/{name}", [auth, &groups](const http::Request& req) {
    (*auth)(req, true);
    auto ifMatch = http::ifMatchRevision(req);
    groups.remove(req.param("name"), ifMatch).orThrow();
    return http::Response::noContent();
  });

  // Tokens -----------------------------------------------------------------
  r.add("GET", "/api/auth/tokens", [auth, &tokens](const http::Request& req) {
    (*auth)(req, false);
    return http::Response::json(200, {{"tokens", jsonArray(tokens.list().orThrow())}});
  });
  r.add("POST", "/api/auth/tokens", [auth, &tokens](const http::Request& req) {
    const auto caller = (*auth)(req, true);
    auto body = model::parseNewApiToken(req.body).orThrow();
    auto created = tokens.create(body.name, body.role, caller.userId, body.expiresInDays).orThrow();
    auto json = model::toJson(created.token);
    json["secret"] = created.secret;  // the only time it is ever shown
    return http::Response::json(201, json)
        .header("Location", "/api/auth/tokens/" + created.token.id)
        .header("Cache-Control", "no-store");
  });
  r.add("DELETE", "/api/auth/tokens/{id}", [auth, &tokens](const http::Request& req) {
    (*auth)(req, true);
    tokens.remove(req.param("id")).orThrow();
    return http::Response::noContent();
  });
}

}  // namespace proxyos::auth
