#pragma once
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace proxyos::testing {

/// A server binary run for a test: its own TempDir (with the log in it), free
/// loopback ports, and a readiness probe that start() polls until it passes.
///
/// The first start() picks free ports; if the server exits before it is ready
/// (typically: another process took a port in the meantime), it retries with
/// new ports, three attempts in all. Once a start succeeded, the ports and the
/// directory are fixed: start() after stop(), and restart(), reuse them. A
/// start that fails throws std::runtime_error carrying the end of the log.
/// The ready probe also checks the server's identity (its pid or name), so a
/// probe can never be answered by some other server that owns the port.
class ServerProcess {
 public:
  struct Spec {
    std::string name;    // in messages and the log file name
    std::string binary;  // a path, or a name looked up on PATH
    int portCount = 1;   // ports[0] is the one clients use
    // The command line for these ports; `dir` is the server's own directory.
    std::function<std::vector<std::string>(const std::vector<uint16_t>& ports, const std::string& dir)> args;
    // One probe of the running server; must be quick and must not hang.
    std::function<bool(const std::vector<uint16_t>& ports, pid_t pid)> ready;
    std::map<std::string, std::string> env;
    std::chrono::milliseconds startTimeout{std::chrono::seconds(10)};
  };

  explicit ServerProcess(Spec spec);

  void start();    // no-op when already running
  void stop();     // SIGTERM, SIGKILL after 5 s
  void kill();     // SIGKILL, as in a crash
  void restart();  // stop if running, then start on the same ports and directory
  bool running();

  const std::vector<uint16_t>& ports() const { return ports_; }
  uint16_t port() const { return ports_.empty() ? 0 : ports_[0]; }
  pid_t pid() const { return child_.pid(); }
  const std::string& dir() const { return dir_.path(); }
  std::string logPath() const;
  std::string logTail(size_t maxBytes = 4000) const;

 private:
  enum class Launch { Ready, ExitedEarly, TimedOut };
  Launch launchOnce();

  Spec spec_;
  TempDir dir_;
  std::vector<uint16_t> ports_;
  ChildProcess child_;  // after dir_: destroyed (killed) before the directory is removed
};

}  // namespace proxyos::testing
