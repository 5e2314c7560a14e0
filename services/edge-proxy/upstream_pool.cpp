#include "upstream_pool.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace proxyos::edge {

namespace {

std::string makeLabel(const UpstreamEndpoint& ep) {
  const bool v6 = ep.host.find(':') != std::string::npos;
  return (v6 ? "[" + ep.host + "]" : ep.host) + ":" + std::to_string(ep.port);
}

using Conns = std::vector<std::unique_ptr<UpstreamConnection>>;

}  // namespace

UpstreamState::UpstreamState(UpstreamEndpoint endpoint, std::size_t maxIdle)
    : endpoint_(std::move(endpoint)), label_(makeLabel(endpoint_)), maxIdle_(maxIdle) {}

UpstreamState::~UpstreamState() = default;

std::unique_ptr<UpstreamConnection> UpstreamState::takeIdle(Clock::MonoTime now, std::chrono::milliseconds idleTimeout,
                                                            bool probe) {
  // Closing (a syscall) happens outside the lock.
  Conns dead;
  std::unique_ptr<UpstreamConnection> found;
  {
    std::lock_guard lock(mu_);
    while (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      if (now - conn->idleSince >= idleTimeout) {
        dead.push_back(std::move(conn));
        continue;
      }
      found = std::move(conn);
      break;
    }
  }
  if (found && probe && !found->looksReusable()) {
    dead.push_back(std::move(found));
    // One probe per request is enough: a second stale connection in a row
    // means the upstream restarted, and the caller's retry covers it.
  }
  for (auto& c : dead) c->close();
  return found;
}

void UpstreamState::putIdle(std::unique_ptr<UpstreamConnection> conn, Clock::MonoTime now) {
  conn->idleSince = now;
  {
    std::lock_guard lock(mu_);
    if (!refuse_ && idle_.size() < maxIdle_) {
      idle_.push_back(std::move(conn));
      return;
    }
  }
  conn->close();
}

void UpstreamState::sweep(Clock::MonoTime now, std::chrono::milliseconds idleTimeout) {
  Conns dead;
  {
    std::lock_guard lock(mu_);
    auto keep = std::stable_partition(idle_.begin(), idle_.end(), [&](const auto& c) {
      return now - c->idleSince < idleTimeout && c->looksReusable();
    });
    std::move(keep, idle_.end(), std::back_inserter(dead));
    idle_.erase(keep, idle_.end());
  }
  for (auto& c : dead) c->close();
}

void UpstreamState::closeIdle(bool refuseMore) {
  Conns dead;
  {
    std::lock_guard lock(mu_);
    refuse_ = refuse_ || refuseMore;
    dead.swap(idle_);
  }
  for (auto& c : dead) c->close();
}

std::size_t UpstreamState::idleCount() const {
  std::lock_guard lock(mu_);
  return idle_.size();
}

}  // namespace proxyos::edge
