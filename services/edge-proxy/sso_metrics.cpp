#include "sso_metrics.h"

#include <mutex>
#include <sstream>

namespace proxyos::edge {

SsoMetrics::Series& SsoMetrics::series(std::string_view providerId) {
  {
    std::shared_lock lock(mu_);
    if (const auto it = series_.find(providerId); it != series_.end()) return *it->second;
  }
  std::unique_lock lock(mu_);
  auto& slot = series_[std::string(providerId)];
  if (!slot) slot = std::make_unique<Series>();
  return *slot;
}

void SsoMetrics::record(std::string_view providerId, SsoOutcome outcome, std::chrono::microseconds latency) {
  Series& s = series(providerId);
  s.outcomes[static_cast<std::size_t>(outcome)].fetch_add(1, std::memory_order_relaxed);
  const auto micros = static_cast<std::uint64_t>(std::max<std::int64_t>(latency.count(), 0));
  for (std::size_t i = 0; i < kBucketsMicros.size(); ++i)
    if (micros <= kBucketsMicros[i]) {
      s.buckets[i].fetch_add(1, std::memory_order_relaxed);  // cumulated at render time
      break;
    }
  s.count.fetch_add(1, std::memory_order_relaxed);
  s.sumMicros.fetch_add(micros, std::memory_order_relaxed);
}

std::string SsoMetrics::render() const {
  // Provider ids are generated ids ([a-z0-9-]), safe as label values.
  static const char* kOutcomes[] = {"allow", "deny", "error"};
  std::ostringstream out;
  out << "# HELP proxyos_edge_sso_checks_total SSO checks by provider and outcome (deny: the provider said no; "
         "error: it could not be asked)\n# TYPE proxyos_edge_sso_checks_total counter\n";
  std::shared_lock lock(mu_);
  for (const auto& [id, s] : series_)
    for (std::size_t o = 0; o < 3; ++o)
      out << "proxyos_edge_sso_checks_total{provider=\"" << id << "\",outcome=\"" << kOutcomes[o] << "\"} "
          << s->outcomes[o].load(std::memory_order_relaxed) << "\n";
  out << "# HELP proxyos_edge_sso_check_duration_seconds time to an SSO verdict, by provider\n"
      << "# TYPE proxyos_edge_sso_check_duration_seconds histogram\n";
  for (const auto& [id, s] : series_) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kBucketsMicros.size(); ++i) {
      cumulative += s->buckets[i].load(std::memory_order_relaxed);
      out << "proxyos_edge_sso_check_duration_seconds_bucket{provider=\"" << id << "\",le=\""
          << static_cast<double>(kBucketsMicros[i]) / 1e6 << "\"} " << cumulative << "\n";
    }
    const auto count = s->count.load(std::memory_order_relaxed);
    out << "proxyos_edge_sso_check_duration_seconds_bucket{provider=\"" << id << "\",le=\"+Inf\"} " << count << "\n"
        << "proxyos_edge_sso_check_duration_seconds_sum{provider=\"" << id << "\"} "
        << static_cast<double>(s->sumMicros.load(std::memory_order_relaxed)) / 1e6 << "\n"
        << "proxyos_edge_sso_check_duration_seconds_count{provider=\"" << id << "\"} " << count << "\n";
  }
  return out.str();
}

}  // namespace proxyos::edge
