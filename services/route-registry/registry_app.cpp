#include "registry_app.h"

#include <spdlog/spdlog.h>

#include "route_handlers.h"
#include "route_service.h"
#include "shared/core/log.h"
#include "shared/core/signals.h"
#include "shared/http/api_guard.h"
#include "shared/http/remote_token_verifier.h"
#include "shared/http/rest_service.h"
#include "shared/redis/redis_client.h"
#include "shared/session/redis_session_store.h"
#include "shared/session/session_verifier.h"
#include "shared/store/kv_bucket.h"

namespace proxyos::registry {

namespace {
constexpr const char* kDefaultListen = "127.0.0.1:7002";
}

ProgramInfo routeRegistryProgram() {
  return {"proxyos-route-registry",
          "ProxyOS route registry: owns routes (domain -> upstreams) in the NATS KV bucket proxyos-routes and serves "
          "/api/routes.",
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

  // Admin APIs: session cookies are verified here (MAC, then Redis); API
  // tokens through the auth service, which owns them.
  redis::Client redis({config.redis});
  session::RedisSessionStore sessions(redis);
  const session::SigningKeys keys(config.secret, config.previousSecrets);
  session::SessionVerifier verifier(keys, sessions, clock);
  http::RemoteTokenVerifier tokens(config.authUrl.origin(), clock);
  const http::ApiGuard guard(verifier, tokens, config.publicUrl.origin());

  RouteService service(bucket, clock, {{config.publicUrl.host}});
  auto metrics = std::make_shared<http::Metrics>("route-registry");
  auto nats = conn.value();
  http::RestService rest({"route-registry", config.listen, 1024 * 1024, 8}, makeRouteRouter(service, guard, clock),
                         [nats, &bucket] { return nats->connected() && bucket.open().ok(); }, metrics, clock);
  try {
    rest.start();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  const int sig = waitForTerminationSignal();
  spdlog::info("signal {} received; shutting down", sig);
  rest.stop();
  return 0;
}

}  // namespace proxyos::registry
