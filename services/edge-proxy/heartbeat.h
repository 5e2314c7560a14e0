#pragma once
// The edge's heartbeat publisher: keeps proxyos:edge:<node> in Redis current
// so route-registry's GET /api/routes/status can list this node and say
// whether it serves the latest config revision.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "shared/core/clock.h"
#include "shared/model/edge_heartbeat.h"
#include "shared/redis/redis_client.h"

namespace proxyos::edge {

/// What the heartbeat reports about the table the edge serves right now.
struct HeartbeatState {
  std::uint64_t revision = 0;  // applied config revision (0: no table yet)
  std::uint64_t routes = 0;    // routes in that table
};

/// Writes this node's heartbeat (SET ... EX 15) on a thread of its own: once
/// at start(), then every `interval`, and as soon as possible after notify().
///
/// Threading: start(), stop() and the destructor belong to the owner's thread;
/// notify() may be called from any thread and never waits for Redis (it only
/// sets a flag under a mutex that the publisher never holds across I/O).
/// `state` is called on the publisher's thread and must be thread-safe.
///
/// Redis being down never escapes the thread: a failed beat is logged once per
/// outage (warn) and once when Redis is back (info); the next beat retries, and
/// redis::Client reconnects lazily on that call.
class HeartbeatPublisher {
 public:
  HeartbeatPublisher(redis::Client& redis, const Clock& clock, std::string node,
                     std::function<HeartbeatState()> state,
                     std::chrono::milliseconds interval = model::kEdgeHeartbeatInterval);
  ~HeartbeatPublisher();  // stop()
  HeartbeatPublisher(const HeartbeatPublisher&) = delete;
  HeartbeatPublisher& operator=(const HeartbeatPublisher&) = delete;

  /// Starts the thread; the first beat is written at once. Once only.
  void start();
  /// Asks for a beat now (after a table swap), so the registry sees the new
  /// revision within milliseconds. Beats asked for while one is being written
  /// are coalesced into one more.
  void notify();
  /// Stops and joins the thread, then deletes the key so a node that shut down
  /// cleanly leaves the list at once (a crashed one expires after the TTL).
  /// Idempotent; a no-op if start() was never called.
  void stop();

  /// Beats written / failed since start(), for metrics and tests.
  std::uint64_t beatsWritten() const { return written_.load(); }
  std::uint64_t beatsFailed() const { return failed_.load(); }

 private:
  void run();
  void beat();

  redis::Client& redis_;
  const Clock& clock_;
  const std::string node_;
  const std::string key_;
  const std::function<HeartbeatState()> state_;
  const std::chrono::milliseconds interval_;
  std::string startedAt_;  // set by start(), before the thread exists

  std::mutex mu_;
  std::condition_variable wake_;
  bool notified_ = false;  // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  bool failing_ = false;   // publisher thread only: inside an outage (already warned)
  std::thread thread_;
  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> failed_{0};
};

}  // namespace proxyos::edge
