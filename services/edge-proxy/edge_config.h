#pragma once
// proxyos-edge's configuration (ARCHITECTURE.md §5): the common variables
// plus the edge's own. Read once at start; a bad value is a ConfigError whose
// one-line message names the variable (exit code 2).
#include <string>
#include <vector>

#include "shared/core/config.h"
#include "shared/core/url.h"

namespace proxyos::edge {

struct EdgeConfig {
  CommonConfig common;
  std::string nodeId;         // PROXYOS_NODE_ID (default: host name)
  HostPort httpListen;        // PROXYOS_EDGE_HTTP_LISTEN
  HostPort adminListen;       // PROXYOS_EDGE_ADMIN_LISTEN
  bool httpsEnabled = true;   // PROXYOS_EDGE_HTTPS_LISTEN is not "off"
  HostPort httpsListen;       // PROXYOS_EDGE_HTTPS_LISTEN
  std::string systemTlsMode;  // PROXYOS_TLS_MODE: "internal" or "auto" (used when PROXYOS_URL is https)
  std::string acmeDirectory;  // PROXYOS_ACME_DIRECTORY
  std::string acmeEmail;      // PROXYOS_ACME_EMAIL
  std::string acmeCaRoot;     // PROXYOS_ACME_CA_ROOT ("" = the system's trust store)
  int threads = 1;            // PROXYOS_EDGE_THREADS (default: cores)
  std::string dashboardDir;   // PROXYOS_DASHBOARD_DIR ("" = built-in placeholder page)
  std::string accessLog;      // PROXYOS_EDGE_ACCESS_LOG: "stdout", "off" or a file path
};

/// The variables proxyos-edge reads, for --help.
std::vector<VarSpec> edgeVarSpecs();

/// Reads and validates them. `hostName` is the default node id (the machine's
/// host name; a parameter so tests need not depend on the machine).
EdgeConfig loadEdgeConfig(const Env& env, const std::string& hostName);

}  // namespace proxyos::edge
