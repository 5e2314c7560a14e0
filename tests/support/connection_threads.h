#pragma once
// The skeleton of the blocking test servers (TestUpstream, RecordingServer):
// a listener on 127.0.0.1, port 0, and a thread per accepted connection.
// Header-only, like the servers built on it.
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

namespace proxyos::testing {

class ConnectionThreads {
 public:
  using Socket = boost::asio::ip::tcp::socket;
  /// Serves one connection until it ends; `connectionId` counts from 1.
  using Serve = std::function<void(Socket& socket, int connectionId)>;

  /// Listens and starts accepting at once.
  explicit ConnectionThreads(Serve serve) : serve_(std::move(serve)), acceptor_(ioc_) {
    namespace asio = boost::asio;
    acceptor_.open(asio::ip::tcp::v4());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    acceptThread_ = std::thread([this] { acceptLoop(); });
  }
  ~ConnectionThreads() { stop(); }
  ConnectionThreads(const ConnectionThreads&) = delete;
  ConnectionThreads& operator=(const ConnectionThreads&) = delete;

  std::uint16_t port() const { return port_; }
  int accepted() const { return accepted_.load(); }

  /// Shuts every connection down (their blocking reads fail), stops
  /// accepting and joins every thread. Idempotent. A connection thread that
  /// waits on something else (a stalled answer) must be released by the
  /// owner before this is called. Afterwards the port refuses connections.
  void stop() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
      for (int fd : liveFds_) ::shutdown(fd, SHUT_RDWR);
    }
    // Wake the blocking accept with a connection of our own.
    boost::system::error_code ec;
    boost::asio::io_context ioc;
    Socket wake(ioc);
    wake.connect({boost::asio::ip::make_address("127.0.0.1"), port_}, ec);
    if (acceptThread_.joinable()) acceptThread_.join();
    acceptor_.close(ec);
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }

 private:
  void acceptLoop() {
    for (;;) {
      boost::system::error_code ec;
      auto sock = std::make_shared<Socket>(ioc_);
      acceptor_.accept(*sock, ec);
      std::lock_guard lock(mu_);
      if (stopping_) return;
      if (ec) continue;
      const int id = ++accepted_;
      liveFds_.insert(sock->native_handle());
      threads_.emplace_back([this, sock, id] {
        serve_(*sock, id);
        std::lock_guard l(mu_);
        liveFds_.erase(sock->native_handle());
      });
    }
  }

  Serve serve_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread acceptThread_;
  std::atomic<int> accepted_{0};
  std::mutex mu_;
  bool stopping_ = false;
  std::set<int> liveFds_;
  std::vector<std::thread> threads_;
};

}  // namespace proxyos::testing
