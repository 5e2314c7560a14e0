#include "table_holder.h"

#include <utility>

namespace proxyos::edge {

std::shared_ptr<const RouteTable> TableHolder::current() const {
  std::lock_guard lock(mu_);
  return table_;
}

void TableHolder::publish(std::shared_ptr<const RouteTable> table) {
  if (!table) return;
  std::shared_ptr<const RouteTable> old;
  {
    std::lock_guard lock(mu_);
    old = std::exchange(table_, std::move(table));
    generation_.fetch_add(1, std::memory_order_release);
  }
  // `old` dies here, outside the lock: destroying a 10,000-route table must
  // not stall request threads waiting in current().
}

bool TableHolder::ready() const {
  std::lock_guard lock(mu_);
  return table_ != nullptr;
}

std::uint64_t TableHolder::revision() const {
  std::lock_guard lock(mu_);
  return table_ ? table_->revision() : 0;
}

}  // namespace proxyos::edge
