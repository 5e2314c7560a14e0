#include "tests/support/server_process.h"

#include <algorithm>
#include <fstream>
#include <stdexcept>

#include "tests/support/loopback.h"
#include "tests/support/read_file.h"
#include "tests/support/wait.h"

namespace proxyos::testing {
namespace {

constexpr int kPortAttempts = 3;

std::string joinPorts(const std::vector<uint16_t>& ports) {
  std::string out;
  for (uint16_t p : ports) out += (out.empty() ? "" : ",") + std::to_string(p);
  return out;
}

}  // namespace

ServerProcess::ServerProcess(Spec spec) : spec_(std::move(spec)) {}

std::string ServerProcess::logPath() const { return dir_.path() + "/" + spec_.name + ".log"; }

std::string ServerProcess::logTail(size_t maxBytes) const {
  std::string log;
  try {
    log = readFile(logPath());
  } catch (const std::runtime_error&) {
    return "(no log)";
  }
  return log.size() <= maxBytes ? log : "..." + log.substr(log.size() - maxBytes);
}

ServerProcess::Launch ServerProcess::launchOnce() {
  {
    // A marker per launch, so a log spanning restarts and retries reads clearly.
    std::ofstream log(logPath(), std::ios::app);
    log << "=== proxyos test: starting " << spec_.name << " on port(s) " << joinPorts(ports_) << " ===\n";
  }
  child_ = ChildProcess::start(spec_.binary, spec_.args(ports_, dir_.path()), spec_.env, logPath());
  bool settled = waitUntil([&] { return !child_.running() || spec_.ready(ports_, child_.pid()); },
                           spec_.startTimeout, std::chrono::milliseconds(10));
  // A server that lost the race for its port exits; it is never taken for
  // ready, even if the probe caught it (or someone else) answering first.
  if (!child_.running()) return Launch::ExitedEarly;
  if (settled) return Launch::Ready;
  child_.kill();
  return Launch::TimedOut;
}

void ServerProcess::start() {
  if (child_.running()) return;
  const bool firstStart = ports_.empty();
  const int attempts = firstStart ? kPortAttempts : 1;
  Launch outcome = Launch::TimedOut;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    if (firstStart) {
      ports_.clear();
      for (int i = 0; i < spec_.portCount; ++i) {
        uint16_t p;
        do {
          p = freePort();
        } while (std::find(ports_.begin(), ports_.end(), p) != ports_.end());
        ports_.push_back(p);
      }
    }
    try {
      outcome = launchOnce();
    } catch (...) {  // e.g. the binary is missing: no port was ever ours
      if (firstStart) ports_.clear();
      throw;
    }
    if (outcome == Launch::Ready) return;
    if (outcome == Launch::TimedOut) break;  // it is up but not answering: a new port will not help
  }
  std::string ports = joinPorts(ports_);
  if (firstStart) ports_.clear();
  throw std::runtime_error(spec_.name + " did not become ready on port(s) " + ports + " (" +
                           (outcome == Launch::TimedOut ? "timed out" : "exited") + "); log " + logPath() +
                           " ends with:\n" + logTail());
}

void ServerProcess::stop() { child_.terminate(std::chrono::seconds(5)); }

void ServerProcess::kill() { child_.kill(); }

void ServerProcess::restart() {
  stop();
  start();
}

bool ServerProcess::running() { return child_.running(); }

}  // namespace proxyos::testing
