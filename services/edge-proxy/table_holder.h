#pragma once
// The edge's current route table, swapped whole (STYLE.md "Config built once,
// then immutable").
//
// Threads: exactly one writer, the config source's callback thread (or start-
// up, before any request thread runs), calls publish(). Any number of request
// threads call current() and keep the returned shared_ptr for the whole
// request, so a request finishes on the table it started with even when a
// newer one is published meanwhile; the old table is freed by whichever
// thread drops the last reference.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "route_table.h"

namespace proxyos::edge {

/// Holds the applied RouteTable. Thread-safe.
class TableHolder {
 public:
  /// The table to serve this request with; nullptr until one was published
  /// (the edge is not ready yet). Cheap: a lock held for one refcount increment.
  std::shared_ptr<const RouteTable> current() const;
  /// Swaps in a fully built table. A null table is ignored: there is no way
  /// back to "not ready".
  void publish(std::shared_ptr<const RouteTable> table);
  /// True once a table (fresh or last-known-good) was published: /readyz.
  bool ready() const;
  /// Revision of the current table; 0 when none.
  std::uint64_t revision() const;
  /// Counts publish() calls: a caller holding the table it got from
  /// current() when this was G may keep using it while this is still G,
  /// without the lock (a connection between its requests).
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  // Not std::atomic<std::shared_ptr>: libstdc++ 12 lacks it, and the
  // std::atomic_load overloads for shared_ptr are a hidden mutex pool anyway
  // (and deprecated in C++20). A plain mutex says what happens.
  mutable std::mutex mu_;
  std::shared_ptr<const RouteTable> table_;
  std::atomic<std::uint64_t> generation_{0};
};

}  // namespace proxyos::edge
