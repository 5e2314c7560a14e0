#pragma once
// Prometheus text exposition for a service. Counters and gauges are created
// once at wiring time and updated lock-free; request metrics take one mutex.
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace proxyos::http {

class Counter {
 public:
  void inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Metrics {
 public:
  explicit Metrics(std::string service);

  /// A counter named e.g. proxyos_routes_conflicts_total; the reference lives as long as Metrics.
  Counter& counter(const std::string& name, const std::string& help);
  /// A gauge read when /metrics is scraped.
  void gauge(const std::string& name, const std::string& help, std::function<double()> read);
  /// A counter kept elsewhere (an atomic of another component), read when scraped.
  void counterFrom(const std::string& name, const std::string& help, std::function<uint64_t()> read);
  /// Text appended to every render(): metric families kept by a component
  /// in its own (lock-free) form, rendered in Prometheus text by it.
  void addRenderer(std::function<std::string()> render);
  /// Records one HTTP request (route = the matched pattern, not the raw path).
  void observeRequest(const std::string& method, const std::string& route, int status, double seconds);

  std::string render() const;

 private:
  struct Named {
    std::string help;
    std::unique_ptr<Counter> counter;
    std::function<double()> gauge;
    std::function<uint64_t()> counterRead;
  };
  struct RequestSeries {
    uint64_t count = 0;
  };
  struct Histogram {
    std::vector<uint64_t> buckets;
    uint64_t count = 0;
    double sum = 0;
  };
  std::string service_;
  mutable std::mutex mu_;
  std::map<std::string, Named> named_;
  std::map<std::string, RequestSeries> requests_;  // key: label set text
  std::map<std::string, Histogram> durations_;     // key: label set text
  std::vector<std::function<std::string()>> renderers_;
};

}  // namespace proxyos::http
