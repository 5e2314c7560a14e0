#include "edge_config.h"

#include <unistd.h>

#include <thread>

#include "shared/model/edge_heartbeat.h"

namespace proxyos::edge {

namespace {
constexpr const char* kDefaultAdminListen = "127.0.0.1:7004";
constexpr const char* kLetsEncrypt = "https://acme-v02.api.letsencrypt.org/directory";

int defaultThreads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }
}  // namespace

std::vector<VarSpec> edgeVarSpecs() {
  std::vector<VarSpec> vars;
  // PROXYOS_LISTEN belongs to the control-plane services; the edge has its own listeners.
  for (auto& v : commonVarSpecs(kDefaultAdminListen))
    if (v.name != "PROXYOS_LISTEN") vars.push_back(std::move(v));
  vars.push_back({"PROXYOS_NODE_ID", "<host name>", "this edge node's name in heartbeats and logs ([A-Za-z0-9._-], 1-63)"});
  vars.push_back({"PROXYOS_EDGE_HTTP_LISTEN", ":8080", "host:port of the HTTP data plane"});
  vars.push_back({"PROXYOS_EDGE_HTTPS_LISTEN", ":8443", "host:port of the HTTPS data plane (certificates by SNI), or off"});
  vars.push_back({"PROXYOS_TLS_MODE", "internal", "the dashboard host's certificate when PROXYOS_URL is https: internal or auto"});
  vars.push_back({"PROXYOS_ACME_DIRECTORY", kLetsEncrypt, "ACME directory URL for routes in tlsMode auto"});
  vars.push_back({"PROXYOS_ACME_EMAIL", "", "contact e-mail of the ACME account (optional)"});
  vars.push_back({"PROXYOS_ACME_CA_ROOT", "", "PEM file of the CA to trust for the ACME server's HTTPS (e.g. pebble's)"});
  vars.push_back({"PROXYOS_EDGE_ADMIN_LISTEN", kDefaultAdminListen, "host:port of /healthz, /readyz, /metrics, /status"});
  vars.push_back({"PROXYOS_EDGE_THREADS", "<cores>", "I/O threads of the data plane (1-256)"});
  vars.push_back({"PROXYOS_DASHBOARD_DIR", "", "the dashboard's static files, served on PROXYOS_URL's host"});
  vars.push_back({"PROXYOS_EDGE_ACCESS_LOG", "stdout", "JSON access log: stdout, off, or a file path (appended)"});
  return vars;
}

EdgeConfig loadEdgeConfig(const Env& env, const std::string& hostName) {
  EdgeConfig c;
  c.common = loadCommonConfig(env, kDefaultAdminListen);
  c.nodeId = envString(env, "PROXYOS_NODE_ID", hostName);
  if (!model::isValidNodeId(c.nodeId))
    throw ConfigError("PROXYOS_NODE_ID=\"" + c.nodeId +
                      "\" is not a node id (1-63 characters of letters, digits, '.', '_' and '-')");
  c.httpListen = envHostPort(env, "PROXYOS_EDGE_HTTP_LISTEN", ":8080");
  c.adminListen = envHostPort(env, "PROXYOS_EDGE_ADMIN_LISTEN", kDefaultAdminListen);
  c.threads = envInt(env, "PROXYOS_EDGE_THREADS", defaultThreads(), 1, 256);
  if (envString(env, "PROXYOS_EDGE_HTTPS_LISTEN", ":8443") == "off")
    c.httpsEnabled = false;
  else
    c.httpsListen = envHostPort(env, "PROXYOS_EDGE_HTTPS_LISTEN", ":8443");
  c.systemTlsMode = envString(env, "PROXYOS_TLS_MODE", "internal");
  if (c.systemTlsMode != "internal" && c.systemTlsMode != "auto")
    throw ConfigError("PROXYOS_TLS_MODE=\"" + c.systemTlsMode + "\" must be internal or auto");
  c.acmeDirectory = envString(env, "PROXYOS_ACME_DIRECTORY", kLetsEncrypt);
  if (!c.acmeDirectory.starts_with("https://") && !c.acmeDirectory.starts_with("http://"))
    throw ConfigError("PROXYOS_ACME_DIRECTORY=\"" + c.acmeDirectory + "\" must be an http(s) URL");
  c.acmeEmail = envString(env, "PROXYOS_ACME_EMAIL", "");
  if (!c.acmeEmail.empty() && c.acmeEmail.find('@') == std::string::npos)
    throw ConfigError("PROXYOS_ACME_EMAIL=\"" + c.acmeEmail + "\" is not an e-mail address");
  c.acmeCaRoot = envString(env, "PROXYOS_ACME_CA_ROOT", "");
  if (!c.acmeCaRoot.empty() && ::access(c.acmeCaRoot.c_str(), R_OK) != 0)
    throw ConfigError("PROXYOS_ACME_CA_ROOT=\"" + c.acmeCaRoot + "\" is not a readable file");
  c.dashboardDir = envString(env, "PROXYOS_DASHBOARD_DIR", "");
  c.accessLog = envString(env, "PROXYOS_EDGE_ACCESS_LOG", "stdout");
  if (c.accessLog != "stdout" && c.accessLog != "off" && c.accessLog.front() != '/')
    throw ConfigError("PROXYOS_EDGE_ACCESS_LOG=\"" + c.accessLog + "\" must be stdout, off or an absolute file path");
  if (c.httpListen.port != 0 && c.httpListen.port == c.adminListen.port &&
      (c.httpListen.host == c.adminListen.host || c.httpListen.host == "0.0.0.0" || c.adminListen.host == "0.0.0.0"))
    throw ConfigError("PROXYOS_EDGE_ADMIN_LISTEN must not use PROXYOS_EDGE_HTTP_LISTEN's port");
  if (c.httpsEnabled && c.httpsListen.port != 0 &&
      (c.httpsListen.port == c.httpListen.port || c.httpsListen.port == c.adminListen.port))
    throw ConfigError("PROXYOS_EDGE_HTTPS_LISTEN must not use the port of PROXYOS_EDGE_HTTP_LISTEN or PROXYOS_EDGE_ADMIN_LISTEN");
  return c;
}

}  // namespace proxyos::edge
