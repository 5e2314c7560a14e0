#pragma once
// The compare-and-set loop behind every PUT, PATCH and DELETE of a resource
// kept in a KvStore: read the current value, check If-Match against its
// revision, act with that revision as the expectation, and when another writer
// got in between (the act answers PreconditionFailed) start over — unless the
// client named a revision with If-Match, whose answer is then 412. Concurrent
// writers never lose an update: a write only lands on the revision it read.
#include <cstdint>
#include <optional>
#include <string>

#include "shared/core/error.h"

namespace proxyos::store {

inline constexpr int kMaxCasAttempts = 8;

/// 412 `precondition_failed` naming the stale and, when known, the current revision.
inline Error staleRevision(const std::string& what, uint64_t expected, std::optional<uint64_t> current) {
  std::string msg = "If-Match revision " + std::to_string(expected) + " is stale; " + what;
  msg += current ? " is at revision " + std::to_string(*current) : " changed meanwhile";
  return Error::make(ErrorKind::PreconditionFailed, "precondition_failed", msg);
}

/// `load()` -> Result<Current>; `revisionOf(current)` -> uint64_t;
/// `act(current)` -> Result<Out>, answering PreconditionFailed only when its
/// compare-and-set write lost (after undoing anything it did first).
template <class Load, class RevisionOf, class Act>
auto casLoop(const std::string& what, std::optional<uint64_t> ifMatch, Load&& load, RevisionOf&& revisionOf, Act&& act)
    -> decltype(act(load().value())) {
  using Out = decltype(act(load().value()));
  for (int attempt = 0; attempt < kMaxCasAttempts; ++attempt) {
    auto current = load();
    if (!current) return Out(current.error());
    const uint64_t revision = revisionOf(current.value());
    if (ifMatch && *ifMatch != revision) return Out(staleRevision(what, *ifMatch, revision));
    Out out = act(current.value());
    if (out.ok() || out.error().kind != ErrorKind::PreconditionFailed) return out;
    if (ifMatch) return Out(staleRevision(what, *ifMatch, std::nullopt));
  }
  return Out(Error::make(ErrorKind::Conflict, "too_many_concurrent_updates", what + " kept changing; try again"));
}

}  // namespace proxyos::store
