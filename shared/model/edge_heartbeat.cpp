#include "shared/model/edge_heartbeat.h"

#include "shared/core/time_format.h"
#include "shared/model/json_reader.h"

namespace proxyos::model {

namespace {

bool isNodeIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

void requireTime(JsonObjectReader& in, ErrorCollector& errors, std::string_view key, std::string& out) {
  if (!in.readString(key, out)) {
    if (!errors.hasErrorAt(in.pathOf(key))) errors.add(in.pathOf(key), "required", "is required");
    return;
  }
  if (!parseTime(out)) errors.add(in.pathOf(key), "invalid_time", "must be an RFC 3339 UTC time");
}

void requireUint64(JsonObjectReader& in, ErrorCollector& errors, std::string_view key, std::uint64_t& out) {
  if (!in.readUint64(key, out) && !errors.hasErrorAt(in.pathOf(key)))
    errors.add(in.pathOf(key), "required", "is required");
}

}  // namespace

bool isValidNodeId(std::string_view node) {
  if (node.empty() || node.size() > kMaxNodeIdChars) return false;
  for (char c : node)
    if (!isNodeIdChar(c)) return false;
  return true;
}

std::string edgeHeartbeatKey(std::string_view node) {
  std::string key(kEdgeHeartbeatKeyPrefix);
  key += node;
  return key;
}

nlohmann::ordered_json toJson(const EdgeHeartbeat& h) {
  nlohmann::ordered_json j;
  j["node"] = h.node;
  j["revision"] = h.revision;
  j["startedAt"] = h.startedAt;
  j["lastSeen"] = h.lastSeen;
  j["routes"] = h.routes;
  return j;
}

Result<EdgeHeartbeat> decodeEdgeHeartbeat(const nlohmann::json& j) {
  ErrorCollector errors;
  if (!j.is_object()) {
    errors.add("", "invalid_type", "expected a JSON object");
    return errors.toError();
  }
  EdgeHeartbeat h;
  JsonObjectReader in(j, "", errors);
  if (!in.readString("node", h.node)) {
    if (!errors.hasErrorAt("node")) errors.add("node", "required", "is required");
  } else if (!isValidNodeId(h.node)) {
    errors.add("node", "invalid_node_id", "must be 1-63 characters of A-Z, a-z, 0-9, '.', '_' and '-'");
  }
  requireUint64(in, errors, "revision", h.revision);
  requireTime(in, errors, "startedAt", h.startedAt);
  requireTime(in, errors, "lastSeen", h.lastSeen);
  requireUint64(in, errors, "routes", h.routes);
  in.finish();
  if (!errors.empty()) return errors.toError();
  return h;
}

Result<EdgeHeartbeat> parseEdgeHeartbeat(std::string_view text) {
  auto document = parseJsonObject(text);
  if (!document) return document.error();
  return decodeEdgeHeartbeat(document.value());
}

}  // namespace proxyos::model
