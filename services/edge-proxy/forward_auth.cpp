#include "forward_auth.h"

#include <spdlog/spdlog.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <tuple>

#include "http_io.h"

namespace proxyos::edge {

namespace asio = boost::asio;
using boost::system::error_code;

asio::awaitable<ForwardAuthCall::Transport> ForwardAuthCall::run(const SsoProviderEntry& provider,
                                                                 const Fields& clientFields,
                                                                 const SsoRequestFacts& facts) {
  failure_.clear();
  const auto state = core_.upstreams.stateFor(provider.endpoint);
  auto& head = io_.toUpstreamScratch;
  head.clear();
  appendAuthRequestHead(provider.provider, provider.authTarget, provider.authHost, clientFields, facts, head);
  const auto deadline = core_.clock.monotonic() + std::chrono::milliseconds(provider.provider.timeoutMs);
  Attempt result = co_await attempt(*state, deadline, true);
  if (result == Attempt::Stale) result = co_await attempt(*state, deadline, false);
  head.clear();
  switch (result) {
    case Attempt::Answered: co_return Transport::Answered;
    case Attempt::TimedOut: co_return Transport::TimedOut;
    default: co_return Transport::Failed;
  }
}

asio::awaitable<ForwardAuthCall::Attempt> ForwardAuthCall::attempt(UpstreamState& state,
                                                                   std::chrono::steady_clock::time_point deadline,
                                                                   bool allowStale) {
  const auto remaining = [&] {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - core_.clock.monotonic());
    return std::max(left, std::chrono::milliseconds(1));
  };
  const auto& opt = core_.options;
  conn_ = allowStale ? state.takeIdle(core_.clock.monotonic(), opt.idleTimeout, false) : nullptr;
  const bool reused = conn_ != nullptr;
  error_code ec;
  if (!conn_) {
    const auto& ep = state.endpoint();
    conn_ = std::make_unique<UpstreamConnection>(core_.ioc.get_executor(), ep.tls ? &core_.tlsClient : nullptr);
    ec = co_await conn_->connect(ep, opt.verifyUpstreamTls, io_.upstreamDog, remaining());
    if (ec) {
      failure_ = ec == asio::error::timed_out ? "connect timed out" : "connect failed: " + ec.message();
      const bool timedOut = ec == asio::error::timed_out;
      release(state, false);
      co_return timedOut ? Attempt::TimedOut : Attempt::Failed;
    }
  }
  // One deadline for the rest: write, answer head and body.
  io_.upstreamDog.arm(remaining(), {nullptr, conn_.get(), nullptr});
  Gather<1> out{{asio::buffer(io_.toUpstreamScratch)}};
  if (!writeNowAll(*conn_, out, ec)) co_await writeRest(*conn_, out, ec);

  parser_.reset();
  parser_.emplace(std::piecewise_construct, std::make_tuple(), std::make_tuple(ArenaAllocator<char>(&io_.headerArena)));
  auto& p = *parser_;
  p.header_limit(static_cast<std::uint32_t>(opt.maxHeaderBytes));
  p.body_limit(kMaxAnswerBody);
  while (!ec && !p.is_done()) co_await readParser(*conn_, conn_->buffer(), p, false, ec);
  // Interim answers (100, 103) are not a verdict; a provider has no reason
  // to send them to a GET, so one is treated as a failure.
  if (!ec && p.get().result_int() < 200) ec = asio::error::invalid_argument;
  const bool timedOut = io_.upstreamDog.fired();
  io_.upstreamDog.disarm();
  if (ec) {
    const bool stale = reused && !timedOut && !p.got_some();
    failure_ = timedOut ? "no answer within timeoutMs" : "answer unreadable: " + ec.message();
    release(state, false);
    if (timedOut) co_return Attempt::TimedOut;
    co_return stale ? Attempt::Stale : Attempt::Failed;
  }
  release(state, p.get().keep_alive() && !p.need_eof() && !core_.stopping);
  co_return Attempt::Answered;
}

void ForwardAuthCall::release(UpstreamState& state, bool reusable) {
  if (!conn_) return;
  if (reusable) {
    state.putIdle(std::move(conn_), core_.clock.monotonic());
    return;
  }
  conn_->close();
  conn_.reset();
}

}  // namespace proxyos::edge
