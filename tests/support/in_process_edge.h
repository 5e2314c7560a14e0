#pragma once
// The edge's data plane in the test's own process: a ProxyServer on
// 127.0.0.1, port 0, run by `threads` I/O threads. One thread builds the
// io_context with concurrency hint 1, as PROXYOS_EDGE_THREADS=1 does (sessions
// without strands); two or more run sessions on strands. Header-only: tests
// that use it link proxyos::edge_core themselves.
#include <pthread.h>
#include <sys/socket.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "services/edge-proxy/proxy_server.h"
#include "shared/core/clock.h"
#include "tests/support/wait.h"

namespace proxyos::testing {

class InProcessEdge {
 public:
  explicit InProcessEdge(int threads) : threadCount_(threads), ioc_(threads) {}
  ~InProcessEdge() { stop(); }
  InProcessEdge(const InProcessEdge&) = delete;
  InProcessEdge& operator=(const InProcessEdge&) = delete;

  /// Listens and starts the I/O threads. `sso` (may be null) must outlive stop().
  void start(edge::TableHolder& tables, edge::ProxyObserver& observer, edge::SystemRouteHandler& system,
             edge::ProxyOptions options = {}, edge::SsoContext* sso = nullptr) {
    server_ = std::make_unique<edge::ProxyServer>(ioc_, tables, std::move(options), observer, system,
                                                  SystemClock::instance());
    if (sso) server_->setSso(sso);
    auto port = server_->listen("127.0.0.1", 0);
    if (!port) throw std::runtime_error("edge listen: " + port.error().message);
    port_ = port.value();
    work_.emplace(ioc_.get_executor());
    for (int i = 0; i < threadCount_; ++i)
      threads_.emplace_back([this] {
        pthread_setname_np(pthread_self(), "edge-io");  // for profilers
        ioc_.run();
      });
  }

  /// Stops accepting, lets open connections drain (true when they all did
  /// within 10 s), then joins the threads. Idempotent.
  bool stop() {
    if (!server_) return true;
    server_->stop();
    const bool drained = waitUntil([&] { return server_->connectionCount() == 0; }, std::chrono::seconds(10));
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    server_.reset();
    return drained;
  }

  bool started() const { return server_ != nullptr; }
  edge::ProxyServer& server() { return *server_; }
  std::uint16_t port() const { return port_; }

 private:
  const int threadCount_;
  boost::asio::io_context ioc_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  std::unique_ptr<edge::ProxyServer> server_;
  std::uint16_t port_ = 0;
};

/// Blocking reads and writes on `s` give up after `timeout` instead of
/// hanging a test forever.
inline void setSocketTimeouts(boost::asio::ip::tcp::socket& s, std::chrono::seconds timeout) {
  timeval tv{static_cast<time_t>(timeout.count()), 0};
  setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace proxyos::testing
