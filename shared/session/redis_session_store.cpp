#include "shared/session/redis_session_store.h"

#include <algorithm>

#include "shared/core/log.h"

namespace proxyos::session {

namespace {

using redis::Reply;

// Writes a session unless it was revoked. A check-then-set from the client
// would leave a window in which a last-seen touch (SessionVerifier reads, then
// writes) lands after a concurrent revoke and resurrects the session; as a
// script the check and the write are one atomic step on the server.
// KEYS: session key, tombstone key, index key. ARGV: value, ttl seconds, id.
constexpr const char* kPutScript = R"lua(
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SADD', KEYS[3], ARGV[3])
return 1
)lua";

// Drops ids from the index only if their key is still absent when the script
// runs: a plain SREM after the MGET could remove an id that a put re-created
// in between, hiding a live session from list().
// KEYS: index key, then one session key per id. ARGV: the ids, same order.
constexpr const char* kPruneScript = R"lua(
local removed = 0
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    removed = removed + redis.call('SREM', KEYS[1], ARGV[i - 1])
  end
end
return removed
)lua";

Error unavailable(const std::string& what, const std::string& detail) {
  return Error::make(ErrorKind::Unavailable, "session_store_unavailable", "session store: " + what + ": " + detail);
}

// Any Redis failure, including an error reply, fails closed as Unavailable:
// a caller must never read "no answer" as "no session" or "not revoked".
Result<Reply> run(redis::Client& client, const std::vector<std::string>& args, const std::string& what) {
  auto reply = client.command(args);
  if (!reply) return unavailable(what, reply.error().message);
  return std::move(reply).value();
}

std::string seconds(std::chrono::seconds s) {
  // EX 0 (or negative) is an error reply in Redis; the shortest life is 1 s.
  return std::to_string(std::max<long long>(s.count(), 1));
}

}  // namespace

Status RedisSessionStore::put(const Session& s, std::chrono::seconds ttl) {
  auto r = run(client_,
               {"EVAL", kPutScript, "3", sessionKey(s.id), revokedKey(s.id), kIndexKey, encodeSession(s), seconds(ttl),
                s.id},
               "put");
  if (!r) return r.error();
  if (r.value().type != Reply::Type::Integer) return unavailable("put", "unexpected reply type");
  if (r.value().integer == 0)
    return Error::make(ErrorKind::Conflict, "session_revoked", "session " + s.id + " was revoked");
  return okStatus();
}

Result<std::optional<Session>> RedisSessionStore::get(const std::string& id) {
  auto r = run(client_, {"GET", sessionKey(id)}, "get");
  if (!r) return r.error();
  if (r.value().isNil()) return std::optional<Session>{};
  if (r.value().type != Reply::Type::String) return unavailable("get", "unexpected reply type");
  auto s = decodeSession(r.value().str);
  if (!s) return s.error();
  // The key names the session; a value for another id is corruption, and
  // honouring it would hand one session's identity to another cookie.
  if (s.value().id != id)
    return Error::make(ErrorKind::Internal, "corrupt_session", "stored session " + id + " names another id");
  return std::optional<Session>{std::move(s).value()};
}

Status RedisSessionStore::revoke(const std::string& id, std::chrono::seconds remember) {
  // Tombstone first: a put that slips in before it is undone by the DEL, and
  // one after it is refused by the put script. (With DEL first, a put between
  // DEL and SET would survive.)
  //
  // WAIT 1 (through pipelineConfirmed): a revocation only the primary has seen
  // is undone by a failover, and the session would work again. Too few
  // acknowledgements is logged and counted by the client but still succeeds:
  // the write is on the primary, and the edges drop the session anyway on the
  // proxyos.session.revoked event.
  auto r = client_.pipelineConfirmed({{"SET", revokedKey(id), "1", "EX", seconds(remember)},
                                      {"DEL", sessionKey(id)},
                                      {"SREM", kIndexKey, id}},
                                     1, kRevokeConfirmTimeout);
  if (!r) return unavailable("revoke", r.error().message);
  return okStatus();
}

Result<bool> RedisSessionStore::wasRevoked(const std::string& id) {
  auto r = run(client_, {"EXISTS", revokedKey(id)}, "wasRevoked");
  if (!r) return r.error();
  if (r.value().type != Reply::Type::Integer) return unavailable("wasRevoked", "unexpected reply type");
  return r.value().integer > 0;
}

Result<std::vector<Session>> RedisSessionStore::list() {
  auto members = run(client_, {"SMEMBERS", kIndexKey}, "list");
  if (!members) return members.error();
  if (members.value().type != Reply::Type::Array) return unavailable("list", "unexpected reply type");
  std::vector<std::string> ids;
  for (const auto& e : members.value().elements) ids.push_back(e.str);
  std::vector<Session> out;
  if (ids.empty()) return out;

  std::vector<std::string> mget{"MGET"};
  for (const auto& id : ids) mget.push_back(sessionKey(id));
  auto values = run(client_, mget, "list");
  if (!values) return values.error();
  if (values.value().type != Reply::Type::Array || values.value().elements.size() != ids.size())
    return unavailable("list", "unexpected reply to MGET");

  std::vector<std::string> gone;
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto& v = values.value().elements[i];
    if (v.isNil()) {
      gone.push_back(ids[i]);
      continue;
    }
    auto s = decodeSession(v.str);
    if (!s || s.value().id != ids[i]) {
      spdlog::warn("session store: skipping stored session {} that does not decode", ids[i]);
      continue;
    }
    out.push_back(std::move(s).value());
  }

  if (!gone.empty()) {
    std::vector<std::string> prune{"EVAL", kPruneScript, std::to_string(gone.size() + 1), kIndexKey};
    for (const auto& id : gone) prune.push_back(sessionKey(id));
    prune.insert(prune.end(), gone.begin(), gone.end());
    // Best effort: the listing is already right; a stale index entry is
    // retried on the next list().
    if (auto p = run(client_, prune, "list prune"); !p)
      spdlog::warn("session store: could not prune {} expired ids: {}", gone.size(), p.error().message);
  }
  return out;
}

}  // namespace proxyos::session
