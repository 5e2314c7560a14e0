#pragma once
// The built-in system route (ARCHITECTURE.md §2 step 2): requests for
// PROXYOS_URL's host. The edge app decides per request whether to proxy them
// to a control-plane service (/api/auth/*, /api/routes*, /api/sso-providers*)
// or to answer them itself (/api/edge/*, the dashboard's static files); the
// data plane does the I/O, so proxied answers stream like any route's.
#include <boost/beast/http/fields.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "header_arena.h"
#include "route_table.h"
#include "shared/model/route.h"

namespace proxyos::edge {

/// The request's header fields as parsed by the data plane.
using SystemHeaders = Fields;

/// The request as the system route sees it. Views into the request; valid
/// only during SystemRouteHandler::handle().
struct SystemRequest {
  std::string_view method;
  std::string_view target;  // as sent (path and query)
  std::string_view path;    // target without the query
  std::string_view host;    // Host header as sent
  std::string_view clientIp;
  const SystemHeaders& headers;
};

/// What the system route does with one request.
struct SystemAnswer {
  enum class Kind {
    Respond,  // send status/headers/body below
    Proxy,    // proxy to `upstream` like a route would (streamed both ways)
  };
  Kind kind = Kind::Respond;

  // Respond. The body is shared so preloaded static files are sent without a
  // copy per request.
  int status = 404;
  std::string contentType = "text/html; charset=utf-8";
  std::shared_ptr<const std::string> body;
  std::vector<std::pair<std::string, std::string>> headers;
  /// Only for a signed-in dashboard user (an admin's or a viewer's session
  /// cookie, checked like the built-in SSO provider does): anyone else gets
  /// a JSON 401 or 403, and 503 when the session store cannot be asked.
  bool dashboardUsersOnly = false;

  // Proxy. The target is passed on unchanged (no path rewrite).
  UpstreamEndpoint upstream;
  model::HeaderOps requestHeaders;
  model::HeaderOps responseHeaders;

  static SystemAnswer respond(int status, std::string contentType, std::shared_ptr<const std::string> body);
  static SystemAnswer proxy(UpstreamEndpoint upstream);
};

/// Answers requests for the system route. handle() runs on the request's I/O
/// thread, concurrently on several threads: it must be thread-safe and must
/// not block (anything slow belongs behind a Proxy answer).
class SystemRouteHandler {
 public:
  virtual ~SystemRouteHandler() = default;
  virtual SystemAnswer handle(const SystemRequest& request) = 0;
};

/// The default until the edge app provides its own: 404 page for everything.
class NotFoundSystemRoute final : public SystemRouteHandler {
 public:
  SystemAnswer handle(const SystemRequest& request) override;
};

}  // namespace proxyos::edge
