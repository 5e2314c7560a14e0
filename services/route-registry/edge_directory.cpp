#include "edge_directory.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>

namespace proxyos::registry {

namespace {

constexpr const char* kScanCount = "100";

/// The client's Unavailable error, worded like the other "dependency down"
/// 503s (service_client.cpp): which dependency, why, and what could not be done.
Error readFailed(const Error& e) {
  if (e.kind != ErrorKind::Unavailable) return e;
  return Error::make(ErrorKind::Unavailable, "redis_unavailable",
                     "Redis is unavailable (" + e.message + "); edge heartbeats cannot be read");
}

Error malformedReply(const std::string& command) {
  return Error::make(ErrorKind::Internal, "redis_command_error", "unexpected reply to " + command + " from Redis");
}

}  // namespace

Result<std::vector<model::EdgeHeartbeat>> RedisEdgeDirectory::list() {
  const std::string pattern = std::string(model::kEdgeHeartbeatKeyPrefix) + "*";
  std::vector<std::string> keys;
  std::string cursor = "0";
  do {
    auto reply = redis_.command({"SCAN", cursor, "MATCH", pattern, "COUNT", kScanCount});
    if (!reply) return readFailed(reply.error());
    const auto& r = reply.value();
    if (r.type != redis::Reply::Type::Array || r.elements.size() != 2 ||
        r.elements[0].type != redis::Reply::Type::String || r.elements[1].type != redis::Reply::Type::Array)
      return malformedReply("SCAN");
    cursor = r.elements[0].str;
    for (const auto& k : r.elements[1].elements)
      if (k.type == redis::Reply::Type::String) keys.push_back(k.str);
  } while (cursor != "0");
  // SCAN may return a key more than once (the keyspace can be rehashed between calls).
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());

  std::vector<model::EdgeHeartbeat> edges;
  if (keys.empty()) return edges;  // MGET needs at least one key
  std::vector<std::string> mget{"MGET"};
  mget.insert(mget.end(), keys.begin(), keys.end());
  auto reply = redis_.command(mget);
  if (!reply) return readFailed(reply.error());
  const auto& values = reply.value();
  if (values.type != redis::Reply::Type::Array || values.elements.size() != keys.size()) return malformedReply("MGET");

  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto& v = values.elements[i];
    if (v.isNil()) continue;  // expired since SCAN (or not a string: MGET answers nil for those too)
    const std::string node = keys[i].substr(model::kEdgeHeartbeatKeyPrefix.size());
    auto parsed = model::parseEdgeHeartbeat(v.str);
    if (!parsed) {
      spdlog::warn("edge heartbeat {} skipped: {}", keys[i], parsed.error().message);
      continue;
    }
    // The key is what the edge deletes and what expires; a record claiming to
    // be another node would show one edge twice (or a ghost), so it is refused.
    if (parsed.value().node != node) {
      spdlog::warn("edge heartbeat {} skipped: it names node \"{}\"", keys[i], parsed.value().node);
      continue;
    }
    edges.push_back(std::move(parsed).value());
  }
  return edges;
}

}  // namespace proxyos::registry
