#include "tests/support/loopback.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>

#include "tests/support/wait.h"

namespace proxyos::testing {
namespace {

/// Owns a socket descriptor.
class Socket {
 public:
  Socket() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

sockaddr_in loopback(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

bool connectTo(const Socket& s, uint16_t port) {
  sockaddr_in addr = loopback(port);
  int r;
  do {
    r = ::connect(s.fd(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (r != 0 && errno == EINTR);
  return r == 0;
}

}  // namespace

uint16_t freePort() {
  // Below the kernel's ephemeral range, from which every outgoing
  // connection of every test running in parallel takes its local port (and
  // holds it, through TIME_WAIT, for a minute): a port picked inside it
  // could be taken by a connect() before our server binds it. Out here only
  // another test's freePort() can pick the same port, at random, in the
  // moment before the server binds.
  static std::mutex mu;
  static std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  static std::set<uint16_t> handedOut;  // never the same port twice in a process
  std::lock_guard lock(mu);
  unsigned ephemeralLow = 32768;
  if (std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range"); range) range >> ephemeralLow;
  if (ephemeralLow > 11024) {
    std::uniform_int_distribution<unsigned> pick(10000, ephemeralLow - 1);
    for (int attempt = 0; attempt < 200; ++attempt) {
      const auto port = static_cast<uint16_t>(pick(rng));
      if (handedOut.contains(port)) continue;
      Socket s;
      sockaddr_in addr = loopback(port);
      if (s.fd() < 0 || ::bind(s.fd(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) continue;
      handedOut.insert(port);
      return port;
    }
  }
  // No room below the range: let the kernel pick one.
  Socket s;
  if (s.fd() < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr = loopback(0);
  if (::bind(s.fd(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error(std::string("bind 127.0.0.1:0: ") + std::strerror(errno));
  }
  socklen_t len = sizeof addr;
  if (::getsockname(s.fd(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error(std::string("getsockname: ") + std::strerror(errno));
  }
  return ntohs(addr.sin_port);
}

bool waitForPort(uint16_t port, std::chrono::milliseconds timeout) {
  return waitUntil(
      [port] {
        Socket s;
        return s.fd() >= 0 && connectTo(s, port);
      },
      timeout, std::chrono::milliseconds(10));
}

std::optional<std::string> loopbackRoundTrip(uint16_t port, const std::string& request,
                                             std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto remainingMs = [&] {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return static_cast<int>(std::max<long long>(0, left.count()));
  };
  Socket s;
  if (s.fd() < 0 || !connectTo(s, port)) return std::nullopt;

  size_t sent = 0;
  while (sent < request.size()) {
    // MSG_NOSIGNAL: a peer that already hung up must not kill the test with SIGPIPE.
    ssize_t n = ::send(s.fd(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    sent += static_cast<size_t>(n);
  }

  std::string response;
  char buf[4096];
  for (;;) {
    pollfd p{s.fd(), POLLIN, 0};
    int ready = ::poll(&p, 1, remainingMs());
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return std::nullopt;
    ssize_t n = ::recv(s.fd(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) return response;
    response.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace proxyos::testing
