#pragma once
#include "edge_directory.h"
#include "route_service.h"
#include "shared/http/api_guard.h"
#include "shared/http/router.h"

namespace proxyos::registry {

/// The REST endpoints of ARCHITECTURE.md §4 (route-registry) over a RouteService:
/// viewers read, admins write (through `guard`). `edges` feeds
/// GET /api/routes/status.
http::Router makeRouteRouter(RouteService& service, EdgeDirectory& edges, const http::ApiGuard& guard,
                             const Clock& clock);

}  // namespace proxyos::registry
