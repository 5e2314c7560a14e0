#include "registry_app.h"

#include <spdlog/spdlog.h>

#include "edge_directory.h"
#include "route_handlers.h"
#include "route_service.h"
#include "shared/core/log.h"
#include "shared/core/signals.h"
#include "shared/http/admin_api_auth.h"
#include "shared/http/rest_service.h"
#include "shared/http/service_client.h"
#include "shared/store/kv_bucket.h"

namespace proxyos::registry {

namespace {
constexpr const char* kDefaultListen = "127.0.0.1:7002";
}

ProgramInfo routeRegistryProgram() {
  return {"proxyos-route-registry",
          "ProxyOS route registry: owns routes (domain -> upstreams) in the NATS KV bucket proxyos-routes and serves "
          "/api/routes; /api/routes/status lists the edge nodes from their heartbeats in Redis.",
          commonVarSpecs(kDefaultListen)};
}

int runRouteRegistry(const Env& env) {
  blockTerminationSignals();  // before any thread exists
  const CommonConfig config = loadCommonConfig(env, kDefaultListen);
  initLogging("route-registry", config.logLevel, config.logFormat);
  const Clock& clock = SystemClock::instance();

  auto conn = store::NatsConnection::connect({config.natsServers, "proxyos-route-registry", std::chrono::seconds(2)});
  if (!conn) {
    spdlog::error("{}", conn.error().message);
    return 1;
  }
  store::KvBucket bucket(conn.value(), {"proxyos-routes", config.natsReplicas, 1, "ProxyOS routes and domain claims"});
  if (auto s = bucket.open(); !s) spdlog::warn("{} (will retry on first use)", s.error().message);

  http::AdminApiAuth adminAuth(config, clock);
  const http::ApiGuard& guard = adminAuth.guard();

  // SSO providers belong to sso-provider: ask it whether one exists and where it lives.
  const http::ServiceClient ssoClient("route-registry", "sso-provider", config.ssoUrl.origin(), adminAuth.keys(), clock);
  RemoteProviderDirectory providers(ssoClient);
  RouteService service(bucket, providers, clock, {{config.publicUrl.host}});
  // Edge heartbeats live in the same Redis as the sessions the guard checks.
  RedisEdgeDirectory edges(adminAuth.redis());
  auto metrics = std::make_shared<http::Metrics>("route-registry");
  auto nats = conn.value();
  http::RestService rest({"route-registry", config.listen, 1024 * 1024, 8},
                         makeRouteRouter(service, edges, guard, clock),
                         [nats, &bucket] { return nats->connected() && bucket.open().ok(); }, metrics, clock);
  return http::serveUntilSignal(rest);
}

}  // namespace proxyos::registry
