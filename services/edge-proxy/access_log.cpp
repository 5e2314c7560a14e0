#include "access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "shared/core/log.h"
#include "shared/core/time_format.h"

namespace proxyos::edge {

namespace {

/// Writes all of `data` to `fd`, retrying short writes and EINTR. A failure
/// is reported once per run of failures: the log must not flood itself.
void writeAll(int fd, const std::string& data, bool& failing) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (!failing) spdlog::error("edge: cannot write the access log: {}", std::strerror(errno));
      failing = true;
      return;
    }
    done += static_cast<std::size_t>(n);
  }
  failing = false;
}

std::string millis(std::chrono::microseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

}  // namespace

Result<AccessLogWriter> openAccessLog(const std::string& target) {
  if (target == "off") return AccessLogWriter{};
  int fd = STDOUT_FILENO;
  if (target != "stdout") {
    fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
      return Error::make(ErrorKind::Unavailable, "access_log_unavailable",
                         "PROXYOS_EDGE_ACCESS_LOG: cannot open " + target + ": " + std::strerror(errno));
  }
  // Owned by the writer: closed when the last copy of it goes (never stdout).
  auto file = std::shared_ptr<int>(new int(fd), [](int* p) {
    if (*p != STDOUT_FILENO) ::close(*p);
    delete p;
  });
  auto failing = std::make_shared<bool>(false);
  return AccessLogWriter([file, failing](const std::string& batch) { writeAll(*file, batch, *failing); });
}

std::string formatAccessLine(const AccessRecord& r, Clock::WallTime at, const std::string& node) {
  std::string line;
  line.reserve(320);
  line += "{\"time\":\"" + formatTime(at) + "\",\"node\":\"" + jsonEscape(node) + "\",\"routeId\":\"" +
          jsonEscape(r.routeId) + "\",\"host\":\"" + jsonEscape(r.host) + "\",\"method\":\"" + jsonEscape(r.method) +
          "\",\"path\":\"" + jsonEscape(r.path) + "\",\"status\":" + std::to_string(r.status) +
          ",\"bytes\":" + std::to_string(r.bytesSent) + ",\"upstream\":\"" + jsonEscape(r.upstream) +
          "\",\"upstreamLatencyMs\":" + millis(r.upstreamLatency) + ",\"totalLatencyMs\":" + millis(r.totalLatency) +
          ",\"requestId\":\"" + jsonEscape(r.requestId) + "\",\"user\":\"" + jsonEscape(r.user) + "\"}\n";
  return line;
}

AccessLog::AccessLog(std::string node, const Clock& clock, AccessLogWriter writer, std::size_t capacity)
    : node_(std::move(node)), clock_(clock), writer_(std::move(writer)), capacity_(capacity) {
  if (writer_) thread_ = std::thread([this] { writerLoop(); });
}

AccessLog::~AccessLog() { stop(); }

void AccessLog::onRequest(AccessRecord&& record) {
  requests_.fetch_add(1, std::memory_order_relaxed);
  const int cls = record.status >= 100 && record.status < 600 ? record.status / 100 : 0;
  byClass_[cls].fetch_add(1, std::memory_order_relaxed);
  if (!writer_) return;
  Entry entry{std::move(record), clock_.now()};
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= capacity_) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    wake = queue_.empty();  // the writer sleeps only on an empty queue
    queue_.push_back(std::move(entry));
  }
  if (wake) cv_.notify_one();
}

void AccessLog::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void AccessLog::writerLoop() {
  std::vector<Entry> batch;
  std::string text;
  for (;;) {
    bool last = false;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      batch.swap(queue_);
      last = stopping_;
    }
    text.clear();
    for (const auto& e : batch) text += formatAccessLine(e.record, e.at, node_);
    if (!text.empty()) writer_(text);
    batch.clear();
    if (last) return;
  }
}

}  // namespace proxyos::edge
