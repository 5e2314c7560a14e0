#include "tests/support/service_process.h"

#include <stdexcept>

#include "tests/support/http_client.h"
#include "tests/support/loopback.h"
#include "tests/support/read_file.h"
#include "tests/support/wait.h"

namespace proxyos::testing {

RunningService startService(const std::string& binary, std::map<std::string, std::string> env,
                            const std::string& logPath, uint16_t port, const std::string& listenVar) {
  if (port == 0) port = freePort();
  env[listenVar] = "127.0.0.1:" + std::to_string(port);
  RunningService s{ChildProcess::start(binary, {}, env, logPath), "http://127.0.0.1:" + std::to_string(port), logPath,
                   port};
  const bool ready = waitUntil([&] { return httpRequest("GET", s.base + "/readyz").status == 200; },
                               std::chrono::seconds(20));
  if (!ready) throw std::runtime_error(binary + " did not become ready:\n" + readFile(logPath));
  return s;
}

}  // namespace proxyos::testing
