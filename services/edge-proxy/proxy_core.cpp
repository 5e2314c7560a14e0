#include "proxy_core.h"

#include <utility>

namespace proxyos::edge {

ProxyCore::ProxyCore(boost::asio::io_context& ioc_, TableHolder& tables_, ProxyOptions options_,
                     ProxyObserver& observer_, SystemRouteHandler& system_, const Clock& clock_)
    : ioc(ioc_),
      tables(tables_),
      options(std::move(options_)),
      observer(observer_),
      system(system_),
      clock(clock_),
      upstreams(options.maxIdlePerUpstream),
      tlsClient(boost::asio::ssl::context::tls_client) {
  boost::system::error_code ec;
  tlsClient.set_default_verify_paths(ec);  // no system CAs: verification fails per connection, visibly
  tlsClient.set_options(boost::asio::ssl::context::default_workarounds | boost::asio::ssl::context::no_sslv2 |
                            boost::asio::ssl::context::no_sslv3 | boost::asio::ssl::context::no_tlsv1 |
                            boost::asio::ssl::context::no_tlsv1_1,
                        ec);
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
