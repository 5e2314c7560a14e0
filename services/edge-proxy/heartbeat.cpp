#include "heartbeat.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include "shared/core/time_format.h"

namespace proxyos::edge {

HeartbeatPublisher::HeartbeatPublisher(redis::Client& redis, const Clock& clock, std::string node,
                                       std::function<HeartbeatState()> state, std::chrono::milliseconds interval)
    : redis_(redis),
      clock_(clock),
      node_(std::move(node)),
      key_(model::edgeHeartbeatKey(node_)),
      state_(std::move(state)),
      interval_(interval) {}

HeartbeatPublisher::~HeartbeatPublisher() { stop(); }

void HeartbeatPublisher::start() {
  if (thread_.joinable()) return;
  startedAt_ = formatTime(clock_.now());
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "edge-heartbeat");
    run();
  });
}

void HeartbeatPublisher::notify() {
  {
    std::lock_guard lock(mu_);
    notified_ = true;
  }
  wake_.notify_one();
}

void HeartbeatPublisher::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();  // after this no SET can land after the DEL below
  if (auto r = redis_.command({"DEL", key_}); !r)
    spdlog::warn("heartbeat: could not delete {} ({}); it expires within {} s", key_, r.error().message,
                 model::kEdgeHeartbeatTtl.count());
}

void HeartbeatPublisher::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    notified_ = false;  // this beat reads the state after the notify: it covers it
    lock.unlock();
    beat();
    lock.lock();
    // The interval is real time on purpose: it paces I/O and is not part of
    // any decision that tests need to move by hand (timestamps use clock_).
    wake_.wait_for(lock, interval_, [this] { return stopping_ || notified_; });
  }
}

void HeartbeatPublisher::beat() {
  std::string value;
  try {
    const HeartbeatState s = state_();
    value = model::toJson(model::EdgeHeartbeat{node_, s.revision, startedAt_, formatTime(clock_.now()), s.routes})
                .dump();
  } catch (const std::exception& e) {
    // The state comes from the caller; a throw there must not end the thread.
    ++failed_;
    spdlog::error("heartbeat: reading the edge's state failed: {}", e.what());
    return;
  }
  auto r = redis_.command({"SET", key_, value, "EX", std::to_string(model::kEdgeHeartbeatTtl.count())});
  if (!r) {
    ++failed_;
    // Once per outage: a Redis that is down for minutes would otherwise log
    // a line every interval. The client reconnects on the next beat.
    if (!failing_) {
      failing_ = true;
      spdlog::warn("heartbeat: cannot write {} ({}); retrying every {} ms, the node drops out of "
                   "/api/routes/status after {} s",
                   key_, r.error().message, interval_.count(), model::kEdgeHeartbeatTtl.count());
    }
    return;
  }
  ++written_;
  if (failing_) {
    failing_ = false;
    spdlog::info("heartbeat: writing {} again", key_);
  }
}

}  // namespace proxyos::edge
