#include "route_handlers.h"

#include <algorithm>

#include "shared/core/time_format.h"
#include "shared/model/json_reader.h"

namespace proxyos::registry {

namespace {

http::Response routeResponse(int status, const model::Route& r) {
  return http::Response::json(status, model::toJson(r)).header("ETag", http::etag(r.revision));
}

nlohmann::ordered_json routeArray(const std::vector<model::Route>& routes) {
  auto arr = nlohmann::ordered_json::array();
  for (const auto& r : routes) arr.push_back(model::toJson(r));
  return arr;
}

/// Each edge with `inSync`: it serves the registry's revision or a later one
/// (an edge may apply a write before this registry's revision read sees it).
nlohmann::ordered_json edgeArray(std::vector<model::EdgeHeartbeat> edges, std::uint64_t configRevision) {
  std::sort(edges.begin(), edges.end(), [](const auto& a, const auto& b) { return a.node < b.node; });
  auto arr = nlohmann::ordered_json::array();
  for (const auto& e : edges)
    arr.push_back({{"node", e.node},
                   {"revision", e.revision},
                   {"inSync", e.revision >= configRevision},
                   {"startedAt", e.startedAt},
                   {"lastSeen", e.lastSeen},
                   {"routes", e.routes}});
  return arr;
}

}  // namespace

http::Router makeRouteRouter(RouteService& svc, EdgeDirectory& edges, const http::ApiGuard& guard,
                             const Clock& clock) {
  http::Router r;
  r.add("GET", "/api/routes", [&svc, &guard](const http::Request& req) {
    guard.require(req, http::Access::Read);
    RouteFilter f{req.queryParam("domain"), req.queryParam("ssoProviderId")};
    return http::Response::json(200, {{"routes", routeArray(svc.list(f).orThrow())}});
  });
  r.add("POST", "/api/routes", [&svc, &guard](const http::Request& req) {
    guard.require(req, http::Access::Write);
    auto route = model::parseRoute(req.body, svc.validation()).orThrow();
    auto created = svc.create(std::move(route)).orThrow();
    return routeResponse(201, created).header("Location", "/api/routes/" + created.id);
  });
  r.add("GET", "/api/routes/export", [&svc, &guard, &clock](const http::Request& req) {
    guard.require(req, http::Access::Read);
    nlohmann::ordered_json doc;
    doc["version"] = 1;
    doc["exportedAt"] = formatTime(clock.now());
    doc["routes"] = routeArray(svc.list({}).orThrow());
    return http::Response::json(200, doc).header("Content-Disposition", "attachment; filename=\"proxyos-routes.json\"");
  });
  r.add("POST", "/api/routes/import", [&svc, &guard](const http::Request& req) {
    guard.require(req, http::Access::Write);
    auto doc = model::parseJsonObject(req.body).orThrow();
    auto results = svc.importRoutes(doc).orThrow();
    auto items = nlohmann::ordered_json::array();
    int created = 0, updated = 0, failed = 0;
    for (const auto& res : results) {
      nlohmann::ordered_json item{{"index", res.index}, {"id", res.id}, {"status", res.status}};
      if (res.error) item["error"] = http::errorBody(*res.error)["error"];
      (res.status == "created" ? created : res.status == "updated" ? updated : failed)++;
      items.push_back(std::move(item));
    }
    return http::Response::json(failed == 0 ? 200 : 207,
                                {{"created", created}, {"updated", updated}, {"failed", failed}, {"results", items}});
  });
  r.add("GET", "/api/routes/status", [&svc, &edges, &guard](const http::Request& req) {
    guard.require(req, http::Access::Read);
    // The revision first, then the heartbeats: an edge that moves on in
    // between shows as in sync (it is), never as behind a revision it has.
    const std::uint64_t revision = svc.configRevision().orThrow();
    return http::Response::json(200, {{"revision", revision}, {"edges", edgeArray(edges.list().orThrow(), revision)}});
  });
  r.add("GET", "/api/routes/{id}", [&svc, &guard](const http::Request& req) {
    guard.require(req, http::Access::Read);
    return routeResponse(200, svc.get(req.param("id")).orThrow());
  });
  r.add("PUT", "/api/routes/{id}", [&svc, &guard](const http::Request& req) {
    guard.require(req, http::Access::Write);
    auto ifMatch = http::ifMatchRevision(req);
    auto route = model::parseRoute(req.body, svc.validation()).orThrow();
    return routeResponse(200, svc.replace(req.param("id"), std::move(route), ifMatch).orThrow());
  });
  r.add("PATCH", "/api/routes/{id}", [&svc, &guard](const http::Request& req) {
    guard.require(req, http::Access::Write);
    auto ifMatch = http::ifMatchRevision(req);
    auto patch = model::parseJsonObject(req.body).orThrow();
    return routeResponse(200, svc.patch(req.param("id"), patch, ifMatch).orThrow());
  });
  r.add("DELETE", "/api/routes/{id}", [&svc, &guard](const http::Request& req) {
    guard.require(req, http::Access::Write);
    auto ifMatch = http::ifMatchRevision(req);
    svc.remove(req.param("id"), ifMatch).orThrow();
    return http::Response::noContent();
  });
  return r;
}

}  // namespace proxyos::registry
