#include "shared/redis/sentinel.h"

#include <charconv>
#include <memory>

#include "shared/redis/hiredis_support.h"

namespace proxyos::redis {
namespace {

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};

Error unreachable(const HostPort& sentinel, const std::string& cause) {
  return Error::make(ErrorKind::Unavailable, "redis_unavailable", "Sentinel " + sentinel.str() + ": " + cause);
}

bool startsWith(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && text.substr(0, prefix.size()) == prefix;
}

}  // namespace

Result<SentinelAnswer> askSentinel(const HostPort& sentinel, const std::string& master,
                                   std::chrono::milliseconds timeout) {
  std::unique_ptr<redisContext, ContextFree> c(
      redisConnectWithTimeout(sentinel.host.c_str(), sentinel.port, detail::toTimeval(timeout)));
  if (!c) return unreachable(sentinel, "out of memory");
  if (c->err != 0) return unreachable(sentinel, "connect: " + detail::failureCause(c.get(), timeout));
  if (redisSetTimeout(c.get(), detail::toTimeval(timeout)) != REDIS_OK)
    return unreachable(sentinel, "set I/O timeout: " + detail::failureCause(c.get(), timeout));

  const char* argv[] = {"SENTINEL", "get-master-addr-by-name", master.c_str()};
  const size_t lens[] = {8, 23, master.size()};
  std::unique_ptr<redisReply, ReplyFree> r(static_cast<redisReply*>(redisCommandArgv(c.get(), 3, argv, lens)));
  if (!r) return unreachable(sentinel, detail::failureCause(c.get(), timeout));
  if (r->type == REDIS_REPLY_ERROR) return unreachable(sentinel, "refused: " + std::string(r->str, r->len));
  if (r->type == REDIS_REPLY_NIL) return unreachable(sentinel, "does not monitor a master named '" + master + "'");
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
      r->element[1]->type != REDIS_REPLY_STRING)
    return unreachable(sentinel, "unexpected reply to SENTINEL get-master-addr-by-name");

  SentinelAnswer out;
  out.host.assign(r->element[0]->str, r->element[0]->len);
  const std::string portText(r->element[1]->str, r->element[1]->len);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (ec != std::errc() || end != portText.data() + portText.size() || port == 0 || port > 65535 || out.host.empty())
    return unreachable(sentinel, "named a malformed address for '" + master + "'");
  out.port = static_cast<uint16_t>(port);
  return out;
}

std::string roleOf(const Reply& role) {
  if (role.type != Reply::Type::Array || role.elements.empty()) return "";
  const Reply& first = role.elements[0];
  if (first.type != Reply::Type::String && first.type != Reply::Type::Status) return "";
  return first.str;
}

int connectedReplicasOf(const Reply& role) {
  // master: ["master", <offset>, [[ip, port, offset], ...]]
  if (roleOf(role) != "master" || role.elements.size() < 3) return -1;
  const Reply& replicas = role.elements[2];
  if (replicas.type != Reply::Type::Array) return -1;
  return static_cast<int>(replicas.elements.size());
}

bool isNotPrimaryError(std::string_view text) {
  return startsWith(text, "READONLY") || startsWith(text, "LOADING") || startsWith(text, "MASTERDOWN");
}

}  // namespace proxyos::redis
