#pragma once
// A ProxyOS service binary started by a test: on a free port (or a given one,
// to restart in place), with its log in a file, ready once /readyz says 200.
#include <map>
#include <string>

#include "tests/support/process.h"

namespace proxyos::testing {

struct RunningService {
  ChildProcess process;
  std::string base;  // http://127.0.0.1:PORT
  std::string log;
  uint16_t port = 0;
};

/// Sets `listenVar` (the variable naming the listener that serves /readyz:
/// PROXYOS_LISTEN, or PROXYOS_EDGE_ADMIN_LISTEN for the edge) itself. Throws
/// std::runtime_error with the log when the service is not ready within 20 s.
RunningService startService(const std::string& binary, std::map<std::string, std::string> env,
                            const std::string& logPath, uint16_t port = 0,
                            const std::string& listenVar = "PROXYOS_LISTEN");

}  // namespace proxyos::testing
