#pragma once
// Where route-registry learns which edge nodes exist and what they have
// applied: the heartbeats edges keep in Redis (shared/model/edge_heartbeat.h).
// An interface so the status handler is unit-tested with a fake.
#include <vector>

#include "shared/core/error.h"
#include "shared/model/edge_heartbeat.h"
#include "shared/redis/redis_client.h"

namespace proxyos::registry {

class EdgeDirectory {
 public:
  virtual ~EdgeDirectory() = default;
  /// Every edge with a live heartbeat, in no particular order. Unavailable
  /// (503, `redis_unavailable`) when the store cannot be read.
  virtual Result<std::vector<model::EdgeHeartbeat>> list() = 0;
};

/// Reads proxyos:edge:* with SCAN (never KEYS, which blocks Redis) and one
/// MGET. A key that expires between the two is skipped; a record that does
/// not decode is skipped and logged, so one bad writer cannot break the page.
class RedisEdgeDirectory final : public EdgeDirectory {
 public:
  explicit RedisEdgeDirectory(redis::Client& redis) : redis_(redis) {}
  Result<std::vector<model::EdgeHeartbeat>> list() override;

 private:
  redis::Client& redis_;
};

}  // namespace proxyos::registry
