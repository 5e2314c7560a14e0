#include "auth_app.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <iostream>
#include <thread>

#include "directory_handlers.h"
#include "group_directory.h"
#include "session_api.h"
#include "shared/core/log.h"
#include "shared/core/signals.h"
#include "shared/http/api_guard.h"
#include "shared/http/rest_service.h"
#include "shared/http/service_client.h"
#include "shared/model/user.h"
#include "shared/redis/redis_client.h"
#include "shared/session/handoff.h"
#include "shared/session/login_rate_limiter.h"
#include "shared/session/redis_session_store.h"
#include "shared/session/service_token.h"
#include "shared/store/kv_bucket.h"
#include "token_service.h"
#include "user_directory.h"

namespace proxyos::auth {

namespace {

constexpr const char* kDefaultListen = "127.0.0.1:7001";

struct AuthConfig {
  CommonConfig common;
  std::string adminUser;
  std::string adminPassword;
  session::RateLimits limits;
};

AuthConfig loadAuthConfig(const Env& env) {
  AuthConfig c{loadCommonConfig(env, kDefaultListen), envString(env, "PROXYOS_ADMIN_USER", "admin"),
               envString(env, "PROXYOS_ADMIN_PASSWORD", ""), {}};
  if (!c.adminPassword.empty() && c.adminPassword.size() < 12)
    throw ConfigError("PROXYOS_ADMIN_PASSWORD must be at least 12 characters");
  auto username = model::normalizeUsername(c.adminUser);
  if (!username) throw ConfigError("PROXYOS_ADMIN_USER must be 1-64 characters of a-z 0-9 . _ @ -");
  c.adminUser = *username;
  c.limits.perUsername = envInt(env, "PROXYOS_LOGIN_MAX_FAILURES", 10, 1, 100000);
  c.limits.perIp = envInt(env, "PROXYOS_LOGIN_MAX_FAILURES_PER_IP", 100, 1, 1000000);
  c.limits.window = std::chrono::seconds(envInt(env, "PROXYOS_LOGIN_WINDOW_SECONDS", 900, 1, 86400));
  return c;
}

}  // namespace

ProgramInfo authProgram() {
  auto vars = commonVarSpecs(kDefaultListen);
  vars.push_back({"PROXYOS_ADMIN_USER", "admin", "first admin's username, created when there is no user"});
  vars.push_back({"PROXYOS_ADMIN_PASSWORD", "", "first admin's password (>= 12 chars); generated and printed once when unset"});
  vars.push_back({"PROXYOS_LOGIN_MAX_FAILURES", "10", "failed logins per username per window before 429"});
  vars.push_back({"PROXYOS_LOGIN_MAX_FAILURES_PER_IP", "100", "failed logins per client IP per window before 429"});
  vars.push_back({"PROXYOS_LOGIN_WINDOW_SECONDS", "900", "length of the login rate-limit window"});
  return {"proxyos-auth",
          "ProxyOS auth service: dashboard users, groups, API tokens and login sessions; serves /api/auth/.",
          std::move(vars)};
}

int runAuth(const Env& env) {
  blockTerminationSignals();  // before any thread exists
  const AuthConfig config = loadAuthConfig(env);
  const CommonConfig& common = config.common;
  initLogging("auth", common.logLevel, common.logFormat);
  const Clock& clock = SystemClock::instance();

  auto conn = store::NatsConnection::connect({common.natsServers, "proxyos-auth", std::chrono::seconds(2)});
  if (!conn) {
    spdlog::error("{}", conn.error().message);
    return 1;
  }
  auto nats = conn.value();
  auto bucket = [&](const char* name, const char* description) {
    return std::make_unique<store::KvBucket>(nats, store::KvBucketConfig{name, common.natsReplicas, 1, description});
  };
  auto usersKv = bucket("proxyos-users", "ProxyOS users and username claims");
  auto groupsKv = bucket("proxyos-groups", "ProxyOS groups");
  auto tokensKv = bucket("proxyos-tokens", "ProxyOS API tokens (hashed)");

  GroupDirectory groups(*groupsKv, clock);
  UserDirectory users(*usersKv, groups, clock);
  TokenService tokens(*tokensKv, clock);

  redis::Client redis({common.redis});
  session::RedisSessionStore sessions(redis);
  session::RedisLoginRateLimiter limiter(redis, config.limits);
  session::RedisHandoffStore handoffs(redis);
  const session::SigningKeys keys(common.secret, common.previousSecrets);
  session::SessionVerifier verifier(keys, sessions, clock);
  session::ServiceAwareTokenVerifier anyToken(keys, clock, tokens);
  const http::ApiGuard guard(verifier, anyToken, common.publicUrl.origin());

  // rd= may also point at any host a route serves: route-registry knows them.
  const http::ServiceClient registry("auth", "route-registry", common.registryUrl.origin(), keys, clock);
  auto servesHost = [&registry](const std::string& host) {
    auto reply = registry.get("/api/routes?domain=" + host);
    return reply && reply.value().status == 200 && !reply.value().body.value("routes", nlohmann::json::array()).empty();
  };
  SessionApi sessionApi({common.publicUrl, common.cookieDomain, parseCidrs(common.trustedProxies), {}, servesHost},
                        keys, sessions, handoffs,
                        verifier, limiter, users, guard, clock, [nats](const std::string& id) {
                          // Edges drop cached verdicts for this session at once.
                          if (auto s = nats->publish("proxyos.session.revoked", id); !s)
                            spdlog::warn("could not announce a revoked session: {}", s.error().message);
                        });
  http::Router router;
  sessionApi.addRoutes(router);
  addDirectoryRoutes(router, users, groups, tokens, clock, [&guard](const http::Request& req, bool write) {
    return guard.require(req, write ? http::Access::Write : http::Access::Read);
  });

  // The first admin: retried until NATS answers, so auth started before NATS heals by itself.
  std::atomic<bool> bootstrapped{false};
  std::atomic<bool> stopping{false};
  std::thread bootstrap([&] {
    for (int attempt = 0; !stopping; ++attempt) {
      auto admin = users.ensureInitialAdmin(config.adminUser, config.adminPassword);
      if (admin) {
        if (admin.value().created) {
          spdlog::info("created the first admin user '{}'", config.adminUser);
          if (!admin.value().generatedPassword.empty())
            // Printed once on stdout, never through the logger.
            std::cout << "proxyos-auth: first admin login: " << config.adminUser << " / "
                      << admin.value().generatedPassword << "  (shown once; change it after logging in)" << std::endl;
        }
        bootstrapped = true;
        return;
      }
      if (admin.error().kind != ErrorKind::Unavailable) {
        spdlog::error("cannot create the first admin: {}", admin.error().message);
        return;  // not ready, ever: /readyz says so
      }
      if (attempt == 0) spdlog::warn("cannot check for the first admin yet: {}", admin.error().message);
      for (int i = 0; i < 10 && !stopping; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });

  auto metrics = std::make_shared<http::Metrics>("auth");
  // Revocations and logouts wait for a replica (RedisSessionStore::revoke).
  metrics->counterFrom("proxyos_redis_unconfirmed_writes_total",
                       "revocations no Redis replica confirmed (WAIT 1) in time: a failover could undo them",
                       [&redis] { return redis.unconfirmedWrites(); });
  metrics->counterFrom("proxyos_redis_primary_changes_total", "reconnects that found a new Redis primary (Sentinel)",
                       [&redis] { return redis.primaryChanges(); });
  http::RestService rest({"auth", common.listen, 1024 * 1024, 8}, std::move(router),
                         [&] { return bootstrapped.load() && nats->connected() && redis.ping(); }, metrics, clock);
  const int code = http::serveUntilSignal(rest);
  stopping = true;
  bootstrap.join();
  return code;
}

}  // namespace proxyos::auth
