#include "upstream_selector.h"

#include <utility>

namespace proxyos::edge {

UpstreamSelector::UpstreamSelector(std::vector<std::shared_ptr<UpstreamState>> states) : states_(std::move(states)) {}

UpstreamState* UpstreamSelector::pick(Clock::MonoTime now, const UpstreamState* exclude) {
  const std::size_t n = states_.size();
  if (n == 0) return nullptr;
  const std::size_t start = next_.fetch_add(1, std::memory_order_relaxed) % n;
  UpstreamState* soonest = nullptr;
  for (std::size_t i = 0; i < n; ++i) {
    UpstreamState* s = states_[(start + i) % n].get();
    if (s == exclude) continue;
    if (s->health().available(now)) return s;
    if (!soonest || s->health().heldUntil() < soonest->health().heldUntil()) soonest = s;
  }
  return soonest;
}

bool UpstreamSelector::serves(const std::vector<UpstreamEndpoint>& endpoints) const {
  if (endpoints.size() != states_.size()) return false;
  for (std::size_t i = 0; i < endpoints.size(); ++i)
    if (!(states_[i]->endpoint() == endpoints[i])) return false;
  return true;
}

UpstreamRegistry::UpstreamRegistry(std::size_t maxIdlePerUpstream) : maxIdle_(maxIdlePerUpstream) {}

std::shared_ptr<UpstreamSelector> UpstreamRegistry::selectorFor(std::string_view key,
                                                                const std::vector<UpstreamEndpoint>& endpoints) {
  std::lock_guard lock(mu_);
  auto it = selectors_.find(key);
  if (it != selectors_.end() && it->second->serves(endpoints)) return it->second;
  std::vector<std::shared_ptr<UpstreamState>> states;
  states.reserve(endpoints.size());
  for (const auto& ep : endpoints) states.push_back(stateForLocked(ep));
  auto selector = std::make_shared<UpstreamSelector>(std::move(states));
  if (it != selectors_.end())
    it->second = selector;
  else
    selectors_.emplace(std::string(key), selector);
  return selector;
}

std::shared_ptr<UpstreamState> UpstreamRegistry::stateFor(const UpstreamEndpoint& endpoint) {
  std::lock_guard lock(mu_);
  return stateForLocked(endpoint);
}

std::shared_ptr<UpstreamState> UpstreamRegistry::stateForLocked(const UpstreamEndpoint& endpoint) {
  EndpointKey key{endpoint.scheme, endpoint.host, endpoint.port};
  auto it = states_.find(key);
  if (it == states_.end()) {
    auto state = std::make_shared<UpstreamState>(endpoint, maxIdle_);
    if (refuse_) state->closeIdle(true);
    it = states_.emplace(std::move(key), std::move(state)).first;
  }
  return it->second;
}

std::vector<std::shared_ptr<UpstreamState>> UpstreamRegistry::allStates() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<UpstreamState>> all;
  all.reserve(states_.size());
  for (const auto& [key, state] : states_) all.push_back(state);
  return all;
}

void UpstreamRegistry::sweepIdle(Clock::MonoTime now, std::chrono::milliseconds idleTimeout) {
  for (const auto& s : allStates()) s->sweep(now, idleTimeout);
}

void UpstreamRegistry::closeIdle(bool refuseMore) {
  {
    std::lock_guard lock(mu_);
    refuse_ = refuse_ || refuseMore;
  }
  for (const auto& s : allStates()) s->closeIdle(refuseMore);
}

std::size_t UpstreamRegistry::idleCount() const {
  std::size_t n = 0;
  for (const auto& s : allStates()) n += s->idleCount();
  return n;
}

}  // namespace proxyos::edge
