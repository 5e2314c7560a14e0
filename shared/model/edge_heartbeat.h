#pragma once
// An edge node's heartbeat (ARCHITECTURE.md §1, §4): each edge writes one
// Redis key, renewed every few seconds with a TTL, saying which config revision
// it has applied. route-registry's GET /api/routes/status lists them. Redis,
// not NATS: a heartbeat may expire, and an edge that crashed must vanish from
// the list on its own.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "shared/core/error.h"

namespace proxyos::model {

/// Every heartbeat key starts with this; SCAN with MATCH kEdgeHeartbeatKeyPrefix + "*".
inline constexpr std::string_view kEdgeHeartbeatKeyPrefix = "proxyos:edge:";
/// How long a heartbeat outlives its last renewal: three missed beats, so one
/// slow Redis round trip does not make an edge blink out of the list.
inline constexpr std::chrono::seconds kEdgeHeartbeatTtl{15};
/// How often an edge renews its heartbeat when nothing changes.
inline constexpr std::chrono::seconds kEdgeHeartbeatInterval{5};
inline constexpr std::size_t kMaxNodeIdChars = 63;

/// One edge's announcement, stored as JSON under edgeHeartbeatKey(node).
struct EdgeHeartbeat {
  std::string node;            // PROXYOS_NODE_ID, see isValidNodeId()
  std::uint64_t revision = 0;  // config revision of the route table it serves (0: none yet)
  std::string startedAt;       // RFC 3339 UTC (formatTime), when the edge started
  std::string lastSeen;        // RFC 3339 UTC (formatTime), when this beat was written
  std::uint64_t routes = 0;    // routes in the table it serves

  bool operator==(const EdgeHeartbeat&) const = default;
};

/// 1-63 characters of [A-Za-z0-9._-]. The id ends up in a Redis key, in a
/// SCAN pattern (so no glob characters) and in the `Via` header.
bool isValidNodeId(std::string_view node);

/// "proxyos:edge:<node>".
std::string edgeHeartbeatKey(std::string_view node);

/// The heartbeat as JSON, every field present, in a stable order.
nlohmann::ordered_json toJson(const EdgeHeartbeat& h);

/// Strict decoding of a stored heartbeat: every field required, unknown fields
/// and wrong types refused, node id and times checked. On failure the Error is
/// ErrorKind::Invalid with `field` naming the first problem, all in `details`.
Result<EdgeHeartbeat> decodeEdgeHeartbeat(const nlohmann::json& j);
/// As decodeEdgeHeartbeat(), from text; BadRequest `invalid_json` when it is
/// not one JSON object.
Result<EdgeHeartbeat> parseEdgeHeartbeat(std::string_view text);

}  // namespace proxyos::model
