#include "edge_config.h"

#include <thread>

#include "shared/model/edge_heartbeat.h"

namespace proxyos::edge {

namespace {
constexpr const char* kDefaultAdminListen = "127.0.0.1:7004";

int defaultThreads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }
}  // namespace

std::vector<VarSpec> edgeVarSpecs() {
  std::vector<VarSpec> vars;
  // PROXYOS_LISTEN belongs to the control-plane services; the edge has its own listeners.
  for (auto& v : commonVarSpecs(kDefaultAdminListen))
    if (v.name != "PROXYOS_LISTEN") vars.push_back(std::move(v));
  vars.push_back({"PROXYOS_NODE_ID", "<host name>", "this edge node's name in heartbeats and logs ([A-Za-z0-9._-], 1-63)"});
  vars.push_back({"PROXYOS_EDGE_HTTP_LISTEN", ":8080", "host:port of the HTTP data plane"});
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
  c.dashboardDir = envString(env, "PROXYOS_DASHBOARD_DIR", "");
  c.accessLog = envString(env, "PROXYOS_EDGE_ACCESS_LOG", "stdout");
  if (c.accessLog != "stdout" && c.accessLog != "off" && c.accessLog.front() != '/')
    throw ConfigError("PROXYOS_EDGE_ACCESS_LOG=\"" + c.accessLog + "\" must be stdout, off or an absolute file path");
  if (c.httpListen.port != 0 && c.httpListen.port == c.adminListen.port &&
      (c.httpListen.host == c.adminListen.host || c.httpListen.host == "0.0.0.0" || c.adminListen.host == "0.0.0.0"))
    throw ConfigError("PROXYOS_EDGE_ADMIN_LISTEN must not use PROXYOS_EDGE_HTTP_LISTEN's port");
  return c;
}

}  // namespace proxyos::edge
