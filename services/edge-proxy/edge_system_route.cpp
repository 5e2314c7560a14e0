#include "edge_system_route.h"

#include "error_pages.h"

namespace proxyos::edge {

namespace {

/// "/api/routes" itself or anything below it ("/api/routes/x"), not "/api/routesx".
bool underPrefix(std::string_view path, std::string_view prefix) {
  return path.starts_with(prefix) && (path.size() == prefix.size() || path[prefix.size()] == '/');
}

SystemAnswer jsonAnswer(int status, std::string body) {
  return SystemAnswer::respond(status, "application/json", std::make_shared<const std::string>(std::move(body)));
}

SystemAnswer jsonError(int status, std::string_view code, std::string_view message) {
  return jsonAnswer(status, jsonErrorBody(code, message));
}

// The dashboard is never framed by another site, and its types are as served.
// It loads nothing but its own files (no inline script or style, no CDN), so
// the policy can be strict: an injected script or style would not run.
constexpr const char* kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

void addPageHeaders(SystemAnswer& a) {
  a.headers.emplace_back("X-Content-Type-Options", "nosniff");
  a.headers.emplace_back("X-Frame-Options", "DENY");
  a.headers.emplace_back("Referrer-Policy", "same-origin");
  a.headers.emplace_back("Content-Security-Policy", kContentSecurityPolicy);
}

}  // namespace

UpstreamEndpoint endpointOf(const Url& url) {
  UpstreamEndpoint ep;
  ep.scheme = url.scheme;
  ep.host = url.host;
  ep.port = url.port;
  ep.tls = url.scheme == "https";
  return ep;
}

EdgeSystemRoute::EdgeSystemRoute(const ControlPlane& services, DashboardFiles dashboard,
                                 std::function<std::string()> status)
    : auth_(endpointOf(services.auth)),
      registry_(endpointOf(services.registry)),
      sso_(endpointOf(services.sso)),
      dashboard_(std::move(dashboard)),
      status_(std::move(status)) {}

SystemAnswer EdgeSystemRoute::handle(const SystemRequest& request) {
  const std::string_view path = request.path;
  if (underPrefix(path, "/api/auth")) return SystemAnswer::proxy(auth_);
  if (underPrefix(path, "/api/routes")) return SystemAnswer::proxy(registry_);
  if (underPrefix(path, "/api/sso-providers")) return SystemAnswer::proxy(sso_);
  if (path == "/api/edge/status") {
    if (request.method != "GET" && request.method != "HEAD")
      return jsonError(405, "method_not_allowed", "use GET");
    auto a = jsonAnswer(200, status_());
    a.headers.emplace_back("Cache-Control", "no-store");
    // Route names, certificates and their errors are for the dashboard's
    // users, not for whoever can reach this host.
    a.dashboardUsersOnly = true;
    return a;
  }
  if (path == "/api/edge/ca.pem") {
    if (request.method != "GET" && request.method != "HEAD")
      return jsonError(405, "method_not_allowed", "use GET");
    std::string pem = caPem_ ? caPem_() : std::string();
    if (pem.empty()) return jsonError(503, "ca_unavailable", "the internal CA is not loaded on this edge yet");
    auto a = SystemAnswer::respond(200, "application/x-pem-file", std::make_shared<const std::string>(std::move(pem)));
    a.headers.emplace_back("Content-Disposition", "attachment; filename=\"proxyos-root-ca.pem\"");
    return a;
  }
  // Unknown APIs answer JSON, not the dashboard's index page.
  if (underPrefix(path, "/api")) return jsonError(404, "not_found", "no such API on this edge");
  return staticFile(request);
}

SystemAnswer EdgeSystemRoute::staticFile(const SystemRequest& request) const {
  if (request.method != "GET" && request.method != "HEAD") {
    auto a = SystemAnswer::respond(405, "text/plain; charset=utf-8",
                                   std::make_shared<const std::string>("method not allowed\n"));
    a.headers.emplace_back("Allow", "GET, HEAD");
    return a;
  }
  const StaticFile* file = dashboard_.find(request.path);
  if (!file)
    return SystemAnswer::respond(404, "text/plain; charset=utf-8", std::make_shared<const std::string>("not found\n"));
  const auto inm = request.headers[boost::beast::http::field::if_none_match];
  SystemAnswer a = std::string_view(inm.data(), inm.size()) == file->etag
                       ? SystemAnswer::respond(304, file->contentType, nullptr)
                       : SystemAnswer::respond(200, file->contentType, file->body);
  a.headers.emplace_back("ETag", file->etag);
  // Revalidate every time: the dashboard changes with each install, and a
  // 304 costs nothing from memory.
  a.headers.emplace_back("Cache-Control", "no-cache");
  addPageHeaders(a);
  return a;
}

}  // namespace proxyos::edge
