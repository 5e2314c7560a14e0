#include "shared/http/metrics.h"

#include <sstream>

namespace proxyos::http {

namespace {
const std::vector<double> kBuckets{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

std::string labelEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}
}  // namespace

Metrics::Metrics(std::string service) : service_(std::move(service)) {}

Counter& Metrics::counter(const std::string& name, const std::string& help) {
  std::lock_guard lock(mu_);
  auto& n = named_[name];
  if (!n.counter) {
    n.help = help;
    n.counter = std::make_unique<Counter>();
  }
  return *n.counter;
}

void Metrics::gauge(const std::string& name, const std::string& help, std::function<double()> read) {
  std::lock_guard lock(mu_);
  auto& n = named_[name];
  n.help = help;
  n.gauge = std::move(read);
}

void Metrics::counterFrom(const std::string& name, const std::string& help, std::function<uint64_t()> read) {
  std::lock_guard lock(mu_);
  auto& n = named_[name];
  n.help = help;
  n.counterRead = std::move(read);
}

void Metrics::addRenderer(std::function<std::string()> render) {
  std::lock_guard lock(mu_);
  renderers_.push_back(std::move(render));
}

void Metrics::observeRequest(const std::string& method, const std::string& route, int status, double seconds) {
  const std::string base = "method=\"" + labelEscape(method) + "\",route=\"" + labelEscape(route) + "\"";
  std::lock_guard lock(mu_);
  requests_[base + ",status=\"" + std::to_string(status) + "\""].count++;
  auto& h = durations_[base];
  if (h.buckets.empty()) h.buckets.assign(kBuckets.size(), 0);
  for (size_t i = 0; i < kBuckets.size(); ++i)
    if (seconds <= kBuckets[i]) h.buckets[i]++;
  h.count++;
  h.sum += seconds;
}

std::string Metrics::render() const {
  std::ostringstream out;
  const std::string svc = "service=\"" + labelEscape(service_) + "\"";
  std::lock_guard lock(mu_);
  out << "# HELP proxyos_up 1 while the service runs\n# TYPE proxyos_up gauge\nproxyos_up{" << svc << "} 1\n";
  for (const auto& [name, n] : named_) {
    out << "# HELP " << name << " " << n.help << "\n";
    if (n.counter || n.counterRead) {
      out << "# TYPE " << name << " counter\n"
          << name << "{" << svc << "} " << (n.counter ? n.counter->value() : n.counterRead()) << "\n";
    } else if (n.gauge) {
      out << "# TYPE " << name << " gauge\n" << name << "{" << svc << "} " << n.gauge() << "\n";
    }
  }
  out << "# HELP proxyos_http_requests_total HTTP requests by method, route pattern and status\n"
      << "# TYPE proxyos_http_requests_total counter\n";
  for (const auto& [labels, s] : requests_)
    out << "proxyos_http_requests_total{" << svc << "," << labels << "} " << s.count << "\n";
  out << "# HELP proxyos_http_request_duration_seconds HTTP request latency\n"
      << "# TYPE proxyos_http_request_duration_seconds histogram\n";
  for (const auto& [labels, h] : durations_) {
    for (size_t i = 0; i < kBuckets.size(); ++i)
      out << "proxyos_http_request_duration_seconds_bucket{" << svc << "," << labels << ",le=\"" << kBuckets[i]
          << "\"} " << h.buckets[i] << "\n";
    out << "proxyos_http_request_duration_seconds_bucket{" << svc << "," << labels << ",le=\"+Inf\"} " << h.count
        << "\n";
    out << "proxyos_http_request_duration_seconds_sum{" << svc << "," << labels << "} " << h.sum << "\n";
    out << "proxyos_http_request_duration_seconds_count{" << svc << "," << labels << "} " << h.count << "\n";
  }
  for (const auto& render : renderers_) out << render();
  return out.str();
}

}  // namespace proxyos::http
