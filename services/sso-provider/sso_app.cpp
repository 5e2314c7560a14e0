#include "sso_app.h"

#include <spdlog/spdlog.h>

#include "presets.h"
#include "provider_handlers.h"
#include "provider_probe.h"
#include "provider_service.h"
#include "provider_usage.h"
#include "shared/core/log.h"
#include "shared/core/signals.h"
#include "shared/http/admin_api_auth.h"
#include "shared/http/rest_service.h"
#include "shared/http/service_client.h"
#include "registry_provider_usage.h"
#include "shared/store/kv_bucket.h"

namespace proxyos::sso {

namespace {
constexpr const char* kDefaultListen = "127.0.0.1:7003";
}

ProgramInfo ssoProviderProgram() {
  return {"proxyos-sso-provider",
          "ProxyOS SSO provider service: owns SSO provider definitions in the NATS KV bucket proxyos-sso-providers, "
          "tests them and serves /api/sso-providers.",
          commonVarSpecs(kDefaultListen)};
}

int runSsoProvider(const Env& env) {
  blockTerminationSignals();  // before any thread exists
  const CommonConfig config = loadCommonConfig(env, kDefaultListen);
  initLogging("sso-provider", config.logLevel, config.logFormat);
  const Clock& clock = SystemClock::instance();

  auto conn = store::NatsConnection::connect({config.natsServers, "proxyos-sso-provider", std::chrono::seconds(2)});
  if (!conn) {
    spdlog::error("{}", conn.error().message);
    return 1;
  }
  store::KvBucket bucket(conn.value(), {kProviderBucket, config.natsReplicas, 1, "ProxyOS SSO providers"});
  if (auto s = bucket.open(); !s) spdlog::warn("{} (will retry on first use)", s.error().message);

  http::AdminApiAuth adminAuth(config, clock);
  const http::ApiGuard& guard = adminAuth.guard();

  // Routes belong to route-registry: ask it which ones use a provider.
  const http::ServiceClient registry("sso-provider", "route-registry", config.registryUrl.origin(), adminAuth.keys(), clock);
  RegistryProviderUsage usage(registry);
  ProviderService service(bucket, clock, usage);
  BeastForwardAuthClient probe(clock);
  const auto presets = makePresets(config.publicUrl, config.authUrl);
  auto metrics = std::make_shared<http::Metrics>("sso-provider");
  auto nats = conn.value();
  http::RestService rest({"sso-provider", config.listen, 1024 * 1024, 8},
                         makeProviderRouter(service, probe, presets, guard),
                         [nats, &bucket] { return nats->connected() && bucket.open().ok(); }, metrics, clock);
  return http::serveUntilSignal(rest);
}

}  // namespace proxyos::sso
