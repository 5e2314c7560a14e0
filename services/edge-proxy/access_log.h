#pragma once
// The edge's JSON access log (ARCHITECTURE.md §2 step 6) and its request
// counters. Request threads only count and enqueue; one writer thread
// formats and writes whole batches, so a slow disk or a blocked stdout pipe
// never stalls a request: when the queue is full, lines are dropped and
// counted (proxyos_edge_access_log_dropped_total) instead.
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "proxy_options.h"
#include "sso_metrics.h"
#include "shared/core/clock.h"
#include "shared/core/error.h"

namespace proxyos::edge {

/// Where formatted batches go. Called on the writer thread only.
using AccessLogWriter = std::function<void(const std::string& batch)>;

/// Opens the access log named by PROXYOS_EDGE_ACCESS_LOG: "stdout", "off"
/// (an empty writer) or an absolute path opened for appending.
Result<AccessLogWriter> openAccessLog(const std::string& target);

/// One line: {"time","node","routeId","host","method","path","status",
/// "bytes","upstream","upstreamLatencyMs","totalLatencyMs","requestId","user"}.
std::string formatAccessLine(const AccessRecord& r, Clock::WallTime at, const std::string& node);

class AccessLog final : public ProxyObserver {
 public:
  /// `writer` empty = log off (requests are still counted).
  AccessLog(std::string node, const Clock& clock, AccessLogWriter writer, std::size_t capacity = 16384);
  /// Calls stop().
  ~AccessLog() override;
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  /// Any I/O thread: counts the request and queues its line.
  void onRequest(AccessRecord&& record) override;
  /// Any I/O thread: counts the check in ssoMetrics().
  void onSsoCheck(std::string_view providerId, SsoOutcome outcome, std::chrono::microseconds latency) override {
    sso_.record(providerId, outcome, latency);
  }
  const SsoMetrics& ssoMetrics() const { return sso_; }
  /// Writes what is queued and ends the writer thread. Idempotent.
  void stop();

  std::uint64_t requests() const { return requests_.load(std::memory_order_relaxed); }
  /// Responses by status class: index 1..5 for 1xx..5xx, 0 for "none sent".
  std::uint64_t responses(int statusClass) const { return byClass_[statusClass].load(std::memory_order_relaxed); }
  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    AccessRecord record;
    Clock::WallTime at;
  };
  void writerLoop();

  const std::string node_;
  const Clock& clock_;
  const AccessLogWriter writer_;
  const std::size_t capacity_;

  std::atomic<std::uint64_t> requests_{0};
  std::array<std::atomic<std::uint64_t>, 6> byClass_{};
  std::atomic<std::uint64_t> dropped_{0};
  SsoMetrics sso_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Entry> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace proxyos::edge
