#include "edge_app.h"

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>
#include <cmath>
#include <thread>

#include "access_log.h"
#include "cert_manager.h"
#include "config_source.h"
#include "edge_config.h"
#include "edge_system_route.h"
#include "heartbeat.h"
#include "last_known_good.h"
#include "proxy_server.h"
#include "shared/core/log.h"
#include "shared/core/signals.h"
#include "shared/core/time_format.h"
#include "shared/http/rest_service.h"
#include "shared/redis/redis_client.h"
#include "shared/session/signing_keys.h"
#include "sso_context.h"
#include "table_holder.h"

namespace proxyos::edge {

namespace {

/// Longest wait for requests in flight after a termination signal.
constexpr auto kDrainTimeout = std::chrono::seconds(20);

std::string machineHostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "edge";
  return buf;
}

/// Everything /status, /api/edge/status and /metrics read. All of it is
/// thread-safe on its own.
struct StatusSources {
  const EdgeConfig& config;
  const CertManager& certs;
  std::string startedAt;
  const TableHolder& tables;
  const NatsConfigSource& source;
  const store::NatsConnection& nats;
  const ProxyServer& server;
};

/// How old the served config is (config_source.h, ConfigFreshness): "nats"
/// once a table built from NATS was applied, "last-known-good" while only the
/// table saved on disk serves, "none" before either.
nlohmann::ordered_json configFreshness(const StatusSources& s) {
  const auto fresh = s.source.freshness();
  const char* origin = s.source.stats().tablesBuilt > 0 ? "nats" : s.tables.ready() ? "last-known-good" : "none";
  nlohmann::ordered_json out;
  out["lastContactAt"] = fresh.lastContactAt ? nlohmann::ordered_json(formatTime(*fresh.lastContactAt)) : nullptr;
  out["ageSeconds"] = std::round(fresh.ageSeconds * 10) / 10;
  out["source"] = origin;
  return out;
}

nlohmann::ordered_json publicStatus(const StatusSources& s) {
  const auto table = s.tables.current();
  return {{"node", s.config.nodeId},
          {"ready", table != nullptr},
          {"revision", table ? table->revision() : 0},
          {"routes", table ? table->routeCount() : 0},
          {"startedAt", s.startedAt},
          {"config", configFreshness(s)},
          {"certificates", s.certs.status()}};
}

/// The admin listener's /status: the public part plus what only an operator
/// on the node needs.
nlohmann::ordered_json adminStatus(const StatusSources& s) {
  auto out = publicStatus(s);
  const auto stats = s.source.stats();
  out["pid"] = static_cast<long>(getpid());
  out["connections"] = s.server.connectionCount();
  out["idleUpstreamConnections"] = s.server.idleUpstreamConnections();
  auto& config = out["config"];  // the freshness fields, then the operator's details
  config["natsConnected"] = s.nats.connected();
  config["snapshotComplete"] = stats.snapshotComplete;
  config["latestRevisionSeen"] = stats.revision;
  config["tablesBuilt"] = stats.tablesBuilt;
  config["entriesRejected"] = stats.entriesRejected;
  config["buildFailures"] = stats.buildFailures;
  config["watchFailures"] = stats.watchFailures;
  return out;
}

void registerMetrics(http::Metrics& m, const StatusSources& s, const AccessLog& log) {
  m.gauge("proxyos_edge_ready", "1 once a route table is loaded", [&s] { return s.tables.ready() ? 1.0 : 0.0; });
  m.gauge("proxyos_edge_config_revision", "proxyos-routes revision of the applied table",
          [&s] { return static_cast<double>(s.tables.revision()); });
  m.gauge("proxyos_edge_routes", "enabled routes in the applied table", [&s] {
    const auto t = s.tables.current();
    return t ? static_cast<double>(t->routeCount()) : 0.0;
  });
  m.gauge("proxyos_edge_client_connections", "open client connections",
          [&s] { return static_cast<double>(s.server.connectionCount()); });
  m.gauge("proxyos_edge_upstream_idle_connections", "idle pooled upstream connections",
          [&s] { return static_cast<double>(s.server.idleUpstreamConnections()); });
  m.gauge("proxyos_edge_config_age_seconds",
          "seconds since the config watches last heard from NATS (a change or a heartbeat, sent every second)",
          [&s] { return s.source.freshness().ageSeconds; });
  m.gauge("proxyos_edge_nats_connected", "1 while connected to NATS", [&s] { return s.nats.connected() ? 1.0 : 0.0; });
  m.counterFrom("proxyos_edge_config_entries_rejected_total", "KV entries skipped because they failed to decode",
                [&s] { return s.source.stats().entriesRejected; });
  m.counterFrom("proxyos_edge_config_tables_built_total", "route tables built from NATS",
                [&s] { return s.source.stats().tablesBuilt; });
  m.counterFrom("proxyos_edge_config_build_failures_total", "route tables that failed to build (old one kept)",
                [&s] { return s.source.stats().buildFailures; });
  m.counterFrom("proxyos_edge_acme_orders_total", "ACME orders this edge started",
                [&s] { return s.certs.ordersStarted(); });
  m.counterFrom("proxyos_edge_acme_order_failures_total", "ACME orders this edge started that failed",
                [&s] { return s.certs.ordersFailed(); });
  m.counterFrom("proxyos_edge_requests_total", "requests handled by the data plane",
                [&log] { return log.requests(); });
  static const char* kClasses[] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
  for (int c = 0; c < 6; ++c)
    m.counterFrom(std::string("proxyos_edge_responses_") + kClasses[c] + "_total",
                  std::string("data-plane responses with status ") + kClasses[c] +
                      (c == 0 ? " (connection closed before a status)" : ""),
                  [&log, c] { return log.responses(c); });
  m.counterFrom("proxyos_edge_access_log_dropped_total", "access log lines dropped because the writer fell behind",
                [&log] { return log.dropped(); });
}

http::Router adminRouter(const StatusSources& s) {
  http::Router r;
  r.add("GET", "/status", [&s](const http::Request&) { return http::Response::json(200, adminStatus(s)); });
  return r;
}

/// The data plane's view of the CertManager (edge_tls.h).
class ManagedTls final : public TlsAuthority {
 public:
  explicit ManagedTls(CertManager& certs) : certs_(certs) {}
  Result<std::optional<std::string>> challengeAnswer(const std::string& token) override {
    return certs_.challengeAnswer(token);
  }
  bool redirectsToHttps(std::string_view host) const override {
    if (certs_.hasTrustedCert(std::string(host))) return true;
    const auto dot = host.find('.');
    return dot != std::string_view::npos && certs_.hasTrustedCert("*" + std::string(host.substr(dot)));
  }

 private:
  CertManager& certs_;
};

/// Every domain of an enabled route with TLS, and the system host when
/// PROXYOS_URL is https.
std::vector<WantedCert> wantedCertificates(const RouteTable& table, const EdgeConfig& config) {
  std::vector<WantedCert> wanted;
  for (const auto& route : table.inputs().routes)
    if (route.enabled && route.tlsMode != model::TlsMode::Off)
      for (const auto& domain : route.domains) wanted.push_back({domain, route.tlsMode});
  if (config.common.publicUrl.scheme == "https" && !config.common.publicUrl.host.empty())
    wanted.push_back({config.common.publicUrl.host,
                      config.systemTlsMode == "auto" ? model::TlsMode::Auto : model::TlsMode::Internal});
  return wanted;
}

}  // namespace

ProgramInfo edgeProgram() {
  return {"proxyos-edge",
          "ProxyOS edge: the data plane. Serves every route of the NATS KV bucket proxyos-routes, applies each "
          "change live, and answers PROXYOS_URL's host with the dashboard and the control-plane APIs.",
          edgeVarSpecs()};
}

int runEdge(const Env& env) {
  blockTerminationSignals();  // before any thread exists
  const EdgeConfig config = loadEdgeConfig(env, machineHostName());
  initLogging("edge", config.common.logLevel, config.common.logFormat);
  const Clock& clock = SystemClock::instance();
  const std::string systemHost = config.common.publicUrl.host;

  DashboardFiles dashboard = DashboardFiles::placeholder();
  if (!config.dashboardDir.empty()) {
    auto loaded = DashboardFiles::load(config.dashboardDir);
    if (!loaded) throw ConfigError(loaded.error().message);
    dashboard = std::move(loaded.value());
  }
  auto writer = openAccessLog(config.accessLog);
  if (!writer) throw ConfigError(writer.error().message);

  // Serve the last-known-good table at once: NATS may be down for a while.
  TableHolder tables;
  const LastKnownGood lkg(config.common.dataDir);
  if (auto s = restoreLastKnownGood(lkg, tables, systemHost); s.ok())
    spdlog::info("serving the last-known-good table (revision {}) from {}", tables.revision(), lkg.path());
  else if (s.error().kind != ErrorKind::NotFound)
    spdlog::warn("last-known-good table not used: {}", s.error().message);

  auto nats = store::NatsConnection::connect({config.common.natsServers, "proxyos-edge-" + config.nodeId,
                                               std::chrono::seconds(2)});
  if (!nats) {
    spdlog::error("{}", nats.error().message);
    return 1;
  }
  redis::Client redis({config.common.redis});

  const std::string startedAt = formatTime(clock.now());
  AccessLog accessLog(config.nodeId, clock, std::move(writer.value()));
  // The built-in SSO provider: sessions verified in-process against Redis.
  // Declared before the server: request coroutines use it until the
  // io_context's threads are joined.
  const session::SessionPolicy sessionPolicy;
  RedisSessionAuthority sessionAuthority({config.common.redis},
                                         session::SigningKeys(config.common.secret, config.common.previousSecrets),
                                         clock, sessionPolicy);
  SsoContext sso(sessionAuthority, clock,
                 {config.common.publicUrl.origin(), systemHost, config.common.cookieDomain, sessionPolicy.absolute});
  boost::asio::io_context ioc(config.threads);
  std::unique_ptr<ProxyServer> server;  // built below, once the system route exists
  StatusSources* sources = nullptr;
  EdgeSystemRoute systemRoute({config.common.authUrl, config.common.registryUrl, config.common.ssoUrl},
                              std::move(dashboard), [&sources] { return publicStatus(*sources).dump(); });
  server = std::make_unique<ProxyServer>(ioc, tables, ProxyOptions{}, accessLog, systemRoute, clock);
  server->setSso(&sso);
  auto bound = server->listen(config.httpListen.host, config.httpListen.port);
  if (!bound) {
    spdlog::error("PROXYOS_EDGE_HTTP_LISTEN={}: {}", config.httpListen.str(), bound.error().message);
    return 1;
  }

  // TLS: certificates from the proxyos-certs bucket (internal CA, ACME),
  // chosen by SNI. The manager keeps retrying in the background when NATS
  // or the CA is not there yet; handshakes fail until it has certificates.
  store::KvBucket certBucket(nats.value(), {"proxyos-certs", config.common.natsReplicas, 1,
                                            "ProxyOS edge certificates: internal CA, ACME account and certificates"});
  CertHolder certHolder;
  CertManagerOptions certOptions;
  certOptions.nodeId = config.nodeId;
  certOptions.secret = config.common.secret;
  certOptions.previousSecrets = config.common.previousSecrets;
  certOptions.acme.directoryUrl = config.acmeDirectory;
  certOptions.acme.caRootFile = config.acmeCaRoot;
  certOptions.acme.email = config.acmeEmail;
  CertManager certManager(certBucket, redis, clock, certHolder, certOptions);
  ManagedTls managedTls(certManager);
  if (const auto t = tables.current()) certManager.setWanted(wantedCertificates(*t, config));  // last-known-good
  systemRoute.setCaSource([&certManager] { return certManager.caPem(); });
  std::optional<std::uint16_t> httpsBound;
  if (config.httpsEnabled) {
    if (auto s = server->setTls({&certHolder, &managedTls, &sso.workers,
                                 config.common.publicUrl.scheme == "https" && config.systemTlsMode == "auto"});
        !s) {
      spdlog::error("TLS: {}", s.error().message);
      return 1;
    }
    auto tlsBound = server->listenTls(config.httpsListen.host, config.httpsListen.port);
    if (!tlsBound) {
      spdlog::error("PROXYOS_EDGE_HTTPS_LISTEN={}: {}", config.httpsListen.str(), tlsBound.error().message);
      return 1;
    }
    httpsBound = tlsBound.value();
  }
  if (auto s = certManager.start(); !s)
    spdlog::error("certificates: {} (retrying in the background; HTTPS handshakes fail until it works)",
                  s.error().message);

  // Saves the applied tables off the config source's thread, at most once a
  // second (last_known_good.h). Declared before the source so it outlives the
  // source's callbacks.
  LastKnownGoodWriter lkgWriter(lkg, clock);
  NatsConfigSource source(nats.value(), clock, {systemHost, config.common.natsReplicas});
  StatusSources status{config, certManager, startedAt, tables, source, *nats.value(), *server};
  sources = &status;

  HeartbeatPublisher heartbeat(redis, clock, config.nodeId, [&tables] {
    const auto t = tables.current();
    return HeartbeatState{t ? t->revision() : 0, t ? t->routeCount() : 0};
  });
  auto metrics = std::make_shared<http::Metrics>("edge");
  registerMetrics(*metrics, status, accessLog);
  metrics->addRenderer([&accessLog] { return accessLog.ssoMetrics().render(); });

  // A logout anywhere ends the session here at once: cached verdicts go and
  // connections it let through close. NATS.c re-subscribes after reconnects.
  auto revocations = nats.value()->subscribe(
      "proxyos.session.revoked", [&server](const std::string&, const std::string& id) { server->revokeSession(id); });
  if (!revocations) spdlog::warn("cannot subscribe to proxyos.session.revoked: {}; logouts reach this edge only "
                                 "when cached verdicts expire (2 s)", revocations.error().message);
  http::RestService admin({"edge", config.adminListen, 64 * 1024, 2}, adminRouter(status),
                          [&tables] { return tables.ready(); }, metrics, clock);
  try {
    admin.start();
  } catch (const std::exception& e) {
    spdlog::error("PROXYOS_EDGE_ADMIN_LISTEN: {}", e.what());
    server->stop();
    return 1;
  }

  lkgWriter.start();
  if (auto s = source.start([&](std::shared_ptr<const RouteTable> table) {
        certManager.setWanted(wantedCertificates(*table, config));
        applyTable(std::move(table), tables, lkgWriter);
        heartbeat.notify();
      });
      !s) {
    spdlog::error("{}", s.error().message);
    admin.stop();
    server->stop();
    return 1;
  }
  heartbeat.start();

  auto work = boost::asio::make_work_guard(ioc);
  std::vector<std::thread> threads;
  for (int i = 0; i < config.threads; ++i)
    threads.emplace_back([&ioc] {
      pthread_setname_np(pthread_self(), "edge-io");
      ioc.run();
    });
  spdlog::info("edge {} serving HTTP on port {}{} with {} thread(s); admin on {}; system host {}", config.nodeId,
               bound.value(), httpsBound ? ", HTTPS on port " + std::to_string(*httpsBound) : std::string(),
               config.threads, config.adminListen.str(), systemHost.empty() ? "(none)" : systemHost);

  const int sig = waitForTerminationSignal();
  spdlog::info("signal {} received; draining connections", sig);
  // Stop taking work first, let requests in flight finish, then take the
  // node out of the heartbeat list and the config feed.
  server->stop();
  const auto deadline = clock.monotonic() + kDrainTimeout;
  while (server->connectionCount() > 0 && clock.monotonic() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling a count: no event to wait on
  if (server->connectionCount() > 0)
    spdlog::warn("{} connection(s) still open after {} s; closing them", server->connectionCount(),
                 kDrainTimeout.count());
  heartbeat.stop();
  if (revocations) revocations.value().reset();
  source.stop();
  certManager.stop();
  lkgWriter.stop();  // after the source: the last applied table is on disk
  admin.stop();
  work.reset();
  ioc.stop();
  for (auto& t : threads) t.join();
  // Worker jobs (Redis lookups for sessions and ACME challenges) may still
  // be running: they use the certificate manager, which goes before `sso`.
  sso.workers.join();
  server.reset();
  accessLog.stop();
  return 0;
}

}  // namespace proxyos::edge
