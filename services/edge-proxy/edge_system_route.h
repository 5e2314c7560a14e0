#pragma once
// The system route of a running edge (ARCHITECTURE.md §2 step 2): requests
// for PROXYOS_URL's host. /api/auth/*, /api/routes* and /api/sso-providers*
// are proxied to those services (the data plane streams them like any
// route); /api/edge/* is answered here; everything else is the dashboard.
#include <functional>
#include <string>

#include "dashboard_files.h"
#include "route_table.h"
#include "shared/core/url.h"
#include "system_route.h"

namespace proxyos::edge {

struct ControlPlane {
  Url auth;      // PROXYOS_AUTH_URL
  Url registry;  // PROXYOS_REGISTRY_URL
  Url sso;       // PROXYOS_SSO_URL
};

class EdgeSystemRoute final : public SystemRouteHandler {
 public:
  /// `status` renders /api/edge/status; it runs on an I/O thread, so it must
  /// only read in-memory state.
  EdgeSystemRoute(const ControlPlane& services, DashboardFiles dashboard, std::function<std::string()> status);

  /// /api/edge/ca.pem: the internal root CA for users to trust. Set before
  /// serving; `caPem` runs on an I/O thread (in-memory state only) and
  /// returns "" while the CA is not loaded (503).
  void setCaSource(std::function<std::string()> caPem) { caPem_ = std::move(caPem); }

  SystemAnswer handle(const SystemRequest& request) override;

 private:
  SystemAnswer staticFile(const SystemRequest& request) const;

  UpstreamEndpoint auth_;
  UpstreamEndpoint registry_;
  UpstreamEndpoint sso_;
  DashboardFiles dashboard_;
  std::function<std::string()> status_;
  std::function<std::string()> caPem_;
};

/// host/port/tls of a service URL, as the data plane connects to it.
UpstreamEndpoint endpointOf(const Url& url);

}  // namespace proxyos::edge
