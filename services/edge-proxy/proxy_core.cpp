#include "proxy_core.h"

#include <boost/asio/strand.hpp>
#include <utility>

namespace proxyos::edge {

namespace {

// Asio keeps the hint in its scheduler only; hint 1 and the "unsafe" hints
// all promise that a single thread runs the io_context (Asio itself drops
// its thread-hand-off paths for them).
bool isSingleThreaded(boost::asio::io_context& ioc) {
  const int hint = boost::asio::use_service<boost::asio::detail::scheduler>(ioc).concurrency_hint();
  return hint == 1 || hint == BOOST_ASIO_CONCURRENCY_HINT_UNSAFE || hint == BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO;
}

}  // namespace

ProxyCore::ProxyCore(boost::asio::io_context& ioc_, TableHolder& tables_, ProxyOptions options_,
                     ProxyObserver& observer_, SystemRouteHandler& system_, const Clock& clock_)
    : ioc(ioc_),
      tables(tables_),
      options(std::move(options_)),
      observer(observer_),
      system(system_),
      clock(clock_),
      upstreams(options.maxIdlePerUpstream),
      tlsClient(boost::asio::ssl::context::tls_client),
      oneThread(isSingleThreaded(ioc_)) {
  boost::system::error_code ec;
  tlsClient.set_default_verify_paths(ec);  // no system CAs: verification fails per connection, visibly
  tlsClient.set_options(boost::asio::ssl::context::default_workarounds | boost::asio::ssl::context::no_sslv2 |
                            boost::asio::ssl::context::no_sslv3 | boost::asio::ssl::context::no_tlsv1 |
                            boost::asio::ssl::context::no_tlsv1_1,
                        ec);
}

boost::asio::any_io_executor ProxyCore::sessionExecutor() {
  if (oneThread) return ioc.get_executor();
  return boost::asio::make_strand(ioc);
}

void ProxyCore::addSession(const std::shared_ptr<ClientSession>& session) {
  std::lock_guard lock(sessionsMu_);
  sessions_.emplace(session.get(), session);
}

void ProxyCore::removeSession(const ClientSession* session) {
  std::lock_guard lock(sessionsMu_);
  sessions_.erase(session);
}

std::vector<std::shared_ptr<ClientSession>> ProxyCore::liveSessions() const {
  std::vector<std::shared_ptr<ClientSession>> out;
  std::lock_guard lock(sessionsMu_);
  out.reserve(sessions_.size());
  for (const auto& [ptr, weak] : sessions_)
    if (auto s = weak.lock()) out.push_back(std::move(s));
  return out;
}

std::size_t ProxyCore::sessionCount() const {
  std::lock_guard lock(sessionsMu_);
  return sessions_.size();
}

}  // namespace proxyos::edge
