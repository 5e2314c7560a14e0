#pragma once
// Per-provider SSO metrics (issue #6): allow / deny / error counts and a
// latency histogram of each provider's checks, in Prometheus text.
//
// Threading: record() runs on every I/O thread once per SSO check. A
// provider's series are created once under an exclusive lock; after that a
// check takes a shared lock for the lookup and bumps atomics.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "proxy_options.h"

namespace proxyos::edge {

class SsoMetrics {
 public:
  /// Upper bounds of the latency buckets, in microseconds.
  static constexpr std::array<std::uint64_t, 10> kBucketsMicros = {100,   250,    500,    1000,   2500,
                                                                    5000, 10000, 50000, 250000, 1000000};

  void record(std::string_view providerId, SsoOutcome outcome, std::chrono::microseconds latency);
  /// proxyos_edge_sso_checks_total{provider,outcome} and
  /// proxyos_edge_sso_check_duration_seconds{provider} (histogram).
  std::string render() const;

 private:
  struct Series {
    std::array<std::atomic<std::uint64_t>, 3> outcomes{};  // SsoOutcome order
    std::array<std::atomic<std::uint64_t>, kBucketsMicros.size()> buckets{};
    std::atomic<std::uint64_t> count{0};
    std::atomic<std::uint64_t> sumMicros{0};
  };
  Series& series(std::string_view providerId);

  mutable std::shared_mutex mu_;
  std::map<std::string, std::unique_ptr<Series>, std::less<>> series_;
};

}  // namespace proxyos::edge
