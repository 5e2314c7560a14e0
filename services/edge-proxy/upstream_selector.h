#pragma once
// Choosing an upstream for a request: round robin over one route's
// endpoints, skipping those held out by back-off, and the registry that
// gives every endpoint one shared state (health, pool) across routes and
// table swaps.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "route_table.h"
#include "shared/core/clock.h"
#include "upstream_pool.h"

namespace proxyos::edge {

/// Round robin over one route's upstreams. Thread-safe (one atomic counter).
///
/// When every endpoint is held out, pick() returns the one whose back-off
/// ends first instead of failing at once: a route with all upstreams
/// flapping still gets its requests tried against the likeliest survivor,
/// and a single-upstream route recovers on the first request after the
/// upstream comes back rather than after the back-off.
class UpstreamSelector {
 public:
  explicit UpstreamSelector(std::vector<std::shared_ptr<UpstreamState>> states);

  /// Next endpoint at `now`, never `exclude` (the one a retry just failed
  /// on); nullptr when nothing else is left.
  UpstreamState* pick(Clock::MonoTime now, const UpstreamState* exclude = nullptr);
  /// The endpoints, in the route's order.
  const std::vector<std::shared_ptr<UpstreamState>>& states() const { return states_; }
  bool serves(const std::vector<UpstreamEndpoint>& endpoints) const;

 private:
  std::vector<std::shared_ptr<UpstreamState>> states_;
  std::atomic<std::uint32_t> next_{0};
};

/// Every endpoint's UpstreamState and every route's selector, created on
/// first use. Thread-safe (one mutex, held for a hash lookup; sessions cache
/// the selector per route while their table stays the same). Entries outlive
/// table swaps, so an endpoint keeps its health and pool when a route is
/// edited, and a removed route's selector is replaced when its id comes back
/// with other upstreams.
class UpstreamRegistry {
 public:
  explicit UpstreamRegistry(std::size_t maxIdlePerUpstream);

  /// The selector for route `key` (a route id, or any string naming a fixed
  /// endpoint list) serving `endpoints`.
  std::shared_ptr<UpstreamSelector> selectorFor(std::string_view key, const std::vector<UpstreamEndpoint>& endpoints);
  std::shared_ptr<UpstreamState> stateFor(const UpstreamEndpoint& endpoint);

  /// Closes idle pooled connections past `idleTimeout` or closed by the peer.
  void sweepIdle(Clock::MonoTime now, std::chrono::milliseconds idleTimeout);
  /// Closes all idle pooled connections; with `refuseMore`, connections
  /// returned later are closed instead of pooled (server stop).
  void closeIdle(bool refuseMore);
  std::size_t idleCount() const;

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using EndpointKey = std::tuple<std::string, std::string, std::uint16_t>;

  std::shared_ptr<UpstreamState> stateForLocked(const UpstreamEndpoint& endpoint);
  std::vector<std::shared_ptr<UpstreamState>> allStates() const;

  const std::size_t maxIdle_;
  mutable std::mutex mu_;
  std::map<EndpointKey, std::shared_ptr<UpstreamState>> states_;
  std::unordered_map<std::string, std::shared_ptr<UpstreamSelector>, StringHash, std::equal_to<>> selectors_;
  bool refuse_ = false;
};

}  // namespace proxyos::edge
