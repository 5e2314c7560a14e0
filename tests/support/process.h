#pragma once
#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace proxyos::testing {

/// A child process started by a test (a server binary, a ProxyOS service).
///
/// The child is tied to the test: it gets SIGKILL when the test process dies
/// (PR_SET_PDEATHSIG), so a crashed test never leaves servers behind;
/// it inherits no file descriptors but stdin (/dev/null), stdout and stderr
/// (both appended to the log file). Move-only, not thread-safe: one owner
/// drives it. A moved-from ChildProcess is empty: pid() is -1 and it is not
/// running.
class ChildProcess {
 public:
  /// Spawns `binary` (a path, or a name looked up on PATH) with `args`, the
  /// inherited environment plus `env` (which overrides), output appended to
  /// `logPath`. Throws std::runtime_error when the binary cannot be executed.
  static ChildProcess start(const std::string& binary, const std::vector<std::string>& args,
                            const std::map<std::string, std::string>& env, const std::string& logPath);

  ChildProcess() = default;
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();  // kills and reaps if still running

  pid_t pid() const { return pid_; }
  /// Reaps the child if it has exited, so it also notices crashes.
  bool running();
  /// SIGTERM, then SIGKILL after `grace`. Returns the exit code (128+signal if
  /// killed by a signal), or -1 for an empty ChildProcess.
  int terminate(std::chrono::milliseconds grace = std::chrono::seconds(5));
  /// SIGKILL and reap.
  void kill();
  /// The exit code once the child has exited, or nullopt when `timeout` passes
  /// first (or the ChildProcess is empty).
  std::optional<int> wait(std::chrono::milliseconds timeout);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  bool reap(bool block);

  pid_t pid_ = -1;
  std::optional<int> exitCode_;  // set once reaped; the pid may be reused after that
};

}  // namespace proxyos::testing
