#pragma once
// Timeouts for one connection's I/O phases (client header, connect, upstream
// header, idle body/tunnel), without a timer operation per read or write.
//
// Threading: a Watchdog and the sockets it guards belong to one session; every
// call and the timer's handler run on that session's strand, which is what
// makes closing the targets from the handler safe. Sockets are *closed*, not
// cancelled: a cancel that lands between two steps of a composed Beast
// operation would be lost, a close is not.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>

namespace proxyos::edge {

class UpstreamConnection;

/// What a Watchdog closes when it fires.
struct WatchdogTargets {
  boost::asio::ip::tcp::socket* client = nullptr;
  UpstreamConnection* upstream = nullptr;
  boost::asio::ip::tcp::resolver* resolver = nullptr;
};

/// A deadline that closes its targets when no activity (touch()) happened
/// for the armed duration. touch() is a clock read and a store; the timer is
/// only re-armed when it wakes up early, so streaming a body costs no timer
/// syscalls per chunk.
class Watchdog {
 public:
  /// `strand`: the session's strand; the timer's handler runs there.
  explicit Watchdog(const boost::asio::any_io_executor& strand);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  /// Starts (or restarts) the countdown with new targets; clears fired().
  void arm(std::chrono::milliseconds timeout, WatchdogTargets targets);
  /// Activity: the countdown starts over.
  void touch();
  /// Stops guarding. Must be called before a target goes away or is handed
  /// to another session (a pooled upstream connection).
  void disarm();
  /// True when the last arm() ended by firing: the I/O error the caller sees
  /// is then a timeout.
  bool fired() const;

 private:
  struct State {
    explicit State(const boost::asio::any_io_executor& ex) : timer(ex) {}
    boost::asio::steady_timer timer;
    std::chrono::steady_clock::time_point deadline{};
    std::chrono::milliseconds timeout{0};
    WatchdogTargets targets;
    std::uint64_t waitId = 0;  // only the latest async_wait may act
    bool waiting = false;
    bool armed = false;
    bool fired = false;
  };
  static void startWait(const std::shared_ptr<State>& st);
  static void fire(State& st);

  // Shared with the pending handler, so a handler that was already queued
  // when the Watchdog died still finds valid (disarmed) state.
  std::shared_ptr<State> state_;
};

}  // namespace proxyos::edge
