#include "watchdog.h"

#include <time.h>

#include "upstream_connection.h"

// I/O deadlines read steady_clock directly: asio's steady_timer runs on it,
// so a Clock seam could not move these timers in a test anyway. Logic whose
// timing tests control (upstream back-off) reads the injected Clock.
namespace proxyos::edge {

namespace {

// arm() and touch() run several times per request; CLOCK_MONOTONIC_COARSE
// is a plain memory read in the vDSO where CLOCK_MONOTONIC reads the TSC
// (the data plane's most frequent library call before this). It is the
// same clock as steady_clock's, at most one kernel tick (1–4 ms) behind,
// so a deadline computed from it comes at most that much early.
std::chrono::steady_clock::time_point coarseNow() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::seconds(ts.tv_sec) +
                                                                     std::chrono::nanoseconds(ts.tv_nsec)));
}

}  // namespace

Watchdog::Watchdog(const boost::asio::any_io_executor& strand) : state_(std::make_shared<State>(strand)) {}

Watchdog::~Watchdog() {
  state_->armed = false;
  state_->targets = {};
  ++state_->waitId;
  state_->timer.cancel();
}

void Watchdog::arm(std::chrono::milliseconds timeout, WatchdogTargets targets) {
  State& st = *state_;
  st.timeout = timeout;
  st.deadline = coarseNow() + timeout;
  st.targets = targets;
  st.armed = true;
  st.fired = false;
  // A wait already pending that ends no later than the new deadline will
  // find the deadline moved and wait again; only an earlier deadline needs
  // the timer reset.
  if (!st.waiting || st.timer.expiry() > st.deadline) startWait(state_);
}

void Watchdog::touch() { state_->deadline = coarseNow() + state_->timeout; }

void Watchdog::disarm() {
  state_->armed = false;
  state_->targets = {};
}

bool Watchdog::fired() const { return state_->fired; }

void Watchdog::startWait(const std::shared_ptr<State>& st) {
  const std::uint64_t id = ++st->waitId;
  st->waiting = true;
  st->timer.expires_at(st->deadline);  // cancels a wait in progress: its handler sees a stale id
  st->timer.async_wait([st, id](const boost::system::error_code&) {
    if (id != st->waitId) return;
    st->waiting = false;
    if (!st->armed) return;
    if (std::chrono::steady_clock::now() < st->deadline) {
      startWait(st);
      return;
    }
    fire(*st);
  });
}

void Watchdog::fire(State& st) {
  st.armed = false;
  st.fired = true;
  boost::system::error_code ec;
  if (st.targets.client) st.targets.client->close(ec);
  if (st.targets.upstream) st.targets.upstream->close();
  if (st.targets.resolver) st.targets.resolver->cancel();
  st.targets = {};
}

}  // namespace proxyos::edge
