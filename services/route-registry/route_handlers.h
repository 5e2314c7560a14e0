#pragma once
#include "route_service.h"
#include "shared/http/router.h"

namespace proxyos::registry {

/// The REST endpoints of ARCHITECTURE.md §4 (route-registry) over a RouteService.
http::Router makeRouteRouter(RouteService& service, const Clock& clock);

}  // namespace proxyos::registry
