#include "shared/redis/redis_client.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>
#include <utility>

#include "shared/redis/hiredis_support.h"
#include "shared/redis/sentinel.h"

namespace proxyos::redis {
namespace {

constexpr const char* kUnavailable = "redis_unavailable";
constexpr const char* kCommandError = "redis_command_error";

using detail::toTimeval;

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

Reply convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::String;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::Status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::Error;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::Integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::Array;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default:  // REDIS_REPLY_NIL
      break;
  }
  return out;
}

// hiredis writes with plain write(): on a connection the server has reset
// that raises SIGPIPE, whose default action kills the process. SIGPIPE from a
// write is sent to the writing thread, so blocking it here for the duration of
// the call and discarding one that arrived meanwhile protects every caller
// without changing the process-wide disposition.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipeSet_);
    sigaddset(&pipeSet_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    wasPending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipeSet_, &previous_);
    blockedByUs_ = sigismember(&previous_, SIGPIPE) == 0;
  }
  ~SigpipeGuard() {
    if (!blockedByUs_) return;  // the caller blocks SIGPIPE already: nothing of ours to undo
    if (!wasPending_) {
      sigset_t pending;
      sigemptyset(&pending);
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        timespec zero{};
        sigtimedwait(&pipeSet_, nullptr, &zero);
      }
    }
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipeSet_;
  sigset_t previous_;
  bool wasPending_ = false;
  bool blockedByUs_ = false;
};

// An idle connection has nothing to read: a readable or hung-up socket means
// the server closed it (restart, idle timeout) or the stream is out of step.
// Dropping it before sending is not a retry: the command has not gone out.
bool isStale(const redisContext* c) {
  if (c->err != 0) return true;
  pollfd p{c->fd, POLLIN | POLLRDHUP, 0};
  int r = ::poll(&p, 1, 0);
  return r != 0;
}

struct Argv {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  explicit Argv(const std::vector<std::string>& args) {
    ptrs.reserve(args.size());
    lens.reserve(args.size());
    for (const auto& a : args) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
  }
  int argc() const { return static_cast<int>(ptrs.size()); }
};

}  // namespace

void Client::ContextDeleter::operator()(redisContext* c) const { redisFree(c); }

Client::Client(ClientOptions options) : options_(std::move(options)) {}

Client::~Client() = default;

Error Client::unavailable(const std::string& what) const {
  const RedisEndpoint& ep = options_.endpoint;
  const std::string target = sentinelMode() ? "redis primary '" + ep.sentinelMaster + "'"
                                            : "redis " + ep.host + ":" + std::to_string(ep.port);
  return Error::make(ErrorKind::Unavailable, kUnavailable, target + ": " + what);
}

std::string Client::describeFailure(const redisContext* c) const {
  return detail::failureCause(c, options_.ioTimeout);
}

void Client::setPrimary(std::string address) {
  std::lock_guard lock(primaryMu_);
  primary_ = std::move(address);
}

std::string Client::primary() const {
  std::lock_guard lock(primaryMu_);
  return primary_;
}

Error Client::connectionLost(const std::string& during) {
  std::string cause = describeFailure(context_.get());
  const std::string where = sentinelMode() ? primary() + ": " : "";  // standalone: the message names it already
  context_.reset();  // dead: the next call reconnects
  setPrimary("");
  return unavailable(where + during + ": " + cause);
}

// The server answered but is not (or no longer) a writable primary: a demoted
// primary answers writes with READONLY on a perfectly healthy connection.
// Dropping it makes the next command resolve the primary again.
Error Client::notPrimary(const std::string& reply) {
  const std::string was = primary();
  context_.reset();
  setPrimary("");
  spdlog::warn("redis: {} is not a writable primary ({}); reconnecting on the next command", was,
               reply.substr(0, reply.find(' ')));
  return unavailable(was + " answered: " + reply);
}

Result<Client::ContextPtr> Client::connectTo(const std::string& host, uint16_t port) const {
  const RedisEndpoint& ep = options_.endpoint;
  ContextPtr c(redisConnectWithTimeout(host.c_str(), port, toTimeval(options_.connectTimeout)));
  if (!c) return unavailable("connect: out of memory");
  const std::string where = sentinelMode() ? host + ":" + std::to_string(port) + ": " : "";
  if (c->err != 0) return unavailable(where + "connect: " + detail::failureCause(c.get(), options_.connectTimeout));
  if (redisSetTimeout(c.get(), toTimeval(options_.ioTimeout)) != REDIS_OK) {
    return unavailable(where + "set I/O timeout: " + c->errstr);
  }
  redisEnableKeepAlive(c.get());  // best effort: notices a vanished peer on idle connections

  // Messages name the step, never the arguments (AUTH carries the password).
  auto handshake = [&](const std::vector<std::string>& args, const std::string& step,
                       const std::string& refused) -> Status {
    Argv argv(args);
    ReplyPtr r(static_cast<redisReply*>(redisCommandArgv(c.get(), argv.argc(), argv.ptrs.data(), argv.lens.data())));
    if (!r) return unavailable(where + step + ": " + describeFailure(c.get()));
    if (r->type == REDIS_REPLY_ERROR) return unavailable(where + refused + ": " + std::string(r->str, r->len));
    return okStatus();
  };
  if (!ep.password.empty()) {
    auto st = handshake({"AUTH", ep.password}, "AUTH", "authentication failed");
    if (!st) return st.error();
  }
  if (ep.db != 0) {
    std::string select = "SELECT " + std::to_string(ep.db);
    auto st = handshake({"SELECT", std::to_string(ep.db)}, select, select + " failed");
    if (!st) return st.error();
  }
  return c;
}

// Asks the Sentinels in order; the first that names an address whose server
// says ROLE master wins. A Sentinel that is down, does not know the name, or
// names a server that is down or not a master (a stale view during or after a
// failover) sends us on to the next one; a round that finds none is retried
// after a short pause, since a failover in progress settles within seconds.
Result<Client::Connected> Client::connectViaSentinel() const {
  const RedisEndpoint& ep = options_.endpoint;
  std::vector<std::string> causes;
  const int rounds = std::max(options_.resolveRounds, 1);
  for (int round = 0; round < rounds; ++round) {
    if (round > 0) std::this_thread::sleep_for(options_.resolveRetryPause);
    causes.clear();
    for (const auto& sentinel : ep.sentinels) {
      auto answer = askSentinel(sentinel, ep.sentinelMaster, options_.sentinelTimeout);
      if (!answer) {
        causes.push_back(answer.error().message);
        continue;
      }
      const std::string address = answer.value().host + ":" + std::to_string(answer.value().port);
      auto c = connectTo(answer.value().host, answer.value().port);
      if (!c) {
        causes.push_back("Sentinel " + sentinel.str() + " named " + address + ", " + c.error().message);
        continue;
      }
      ReplyPtr r(static_cast<redisReply*>(redisCommand(c.value().get(), "ROLE")));
      if (!r) {
        causes.push_back("Sentinel " + sentinel.str() + " named " + address + ": ROLE: " +
                         describeFailure(c.value().get()));
        continue;
      }
      const Reply role = convert(r.get());
      const std::string name = role.isError() ? "error: " + role.str : roleOf(role);
      if (name != "master") {
        causes.push_back("Sentinel " + sentinel.str() + " named " + address + ", whose ROLE is " +
                         (name.empty() ? "unreadable" : name));
        continue;
      }
      return Connected{std::move(c).value(), address};
    }
  }
  std::string all;
  for (const auto& c : causes) all += (all.empty() ? "" : "; ") + c;
  return unavailable("no primary found through " + std::to_string(ep.sentinels.size()) + " Sentinel(s): " + all);
}

Result<Client::Connected> Client::connect() const {
  if (sentinelMode()) return connectViaSentinel();
  auto c = connectTo(options_.endpoint.host, options_.endpoint.port);
  if (!c) return c.error();
  return Connected{std::move(c).value(), options_.endpoint.host + ":" + std::to_string(options_.endpoint.port)};
}

Status Client::ensureConnectedLocked() {
  if (context_ && isStale(context_.get())) {
    context_.reset();
    setPrimary("");
  }
  if (context_) return okStatus();
  auto c = connect();
  if (!c) return c.error();
  context_ = std::move(c.value().context);
  if (sentinelMode() && c.value().address != lastPrimary_) {
    if (!lastPrimary_.empty()) {
      primaryChanges_.fetch_add(1);
      spdlog::warn("redis: primary '{}' is now {} (was {})", options_.endpoint.sentinelMaster, c.value().address,
                   lastPrimary_);
    } else {
      spdlog::info("redis: primary '{}' is {}", options_.endpoint.sentinelMaster, c.value().address);
    }
    lastPrimary_ = c.value().address;
  }
  setPrimary(std::move(c.value().address));
  return okStatus();
}

Result<Reply> Client::command(const std::vector<std::string>& args) {
  if (args.empty()) return Error::make(ErrorKind::Internal, kCommandError, "empty redis command");
  SigpipeGuard guard;
  std::lock_guard lock(mu_);
  if (auto st = ensureConnectedLocked(); !st) return st.error();

  Argv argv(args);
  if (redisAppendCommandArgv(context_.get(), argv.argc(), argv.ptrs.data(), argv.lens.data()) != REDIS_OK) {
    return connectionLost("queue " + args[0]);
  }
  commandsSent_.fetch_add(1);
  void* raw = nullptr;
  if (redisGetReply(context_.get(), &raw) != REDIS_OK || raw == nullptr) return connectionLost(args[0]);
  ReplyPtr reply(static_cast<redisReply*>(raw));
  // An error reply leaves the connection in step and usable.
  if (reply->type == REDIS_REPLY_ERROR) {
    std::string text(reply->str, reply->len);
    if (isNotPrimaryError(text)) return notPrimary(text);
    return Error::make(ErrorKind::Internal, kCommandError, std::move(text));
  }
  return convert(reply.get());
}

Status Client::queueLocked(const std::vector<std::vector<std::string>>& commands, const char* what) {
  for (const auto& args : commands) {
    Argv argv(args);
    if (redisAppendCommandArgv(context_.get(), argv.argc(), argv.ptrs.data(), argv.lens.data()) != REDIS_OK)
      return connectionLost(std::string("queue ") + what);
  }
  commandsSent_.fetch_add(commands.size());
  return okStatus();
}

namespace {
Status checkNoEmptyCommand(const std::vector<std::vector<std::string>>& commands) {
  for (const auto& args : commands) {
    if (args.empty()) return Error::make(ErrorKind::Internal, kCommandError, "empty redis command in pipeline");
  }
  return okStatus();
}
}  // namespace

Result<std::vector<Reply>> Client::pipeline(const std::vector<std::vector<std::string>>& commands) {
  if (commands.empty()) return std::vector<Reply>{};
  if (auto st = checkNoEmptyCommand(commands); !st) return st.error();
  SigpipeGuard guard;
  std::lock_guard lock(mu_);
  if (auto st = ensureConnectedLocked(); !st) return st.error();
  if (auto st = queueLocked(commands, "pipeline"); !st) return st.error();
  // The first redisGetReply writes the whole batch, then each call reads one reply.
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(context_.get(), &raw) != REDIS_OK || raw == nullptr) {
      return connectionLost("pipeline of " + std::to_string(commands.size()) + " commands (reply " +
                            std::to_string(i + 1) + ")");
    }
    ReplyPtr reply(static_cast<redisReply*>(raw));
    replies.push_back(convert(reply.get()));
  }
  for (const auto& r : replies)
    if (r.isError() && isNotPrimaryError(r.str)) return notPrimary(r.str);
  return replies;
}

Result<ConfirmedReplies> Client::pipelineConfirmed(const std::vector<std::vector<std::string>>& commands,
                                                   int replicas, std::chrono::milliseconds timeout) {
  if (commands.empty()) return Error::make(ErrorKind::Internal, kCommandError, "nothing to confirm");
  if (auto st = checkNoEmptyCommand(commands); !st) return st.error();
  SigpipeGuard guard;
  std::lock_guard lock(mu_);
  if (auto st = ensureConnectedLocked(); !st) return st.error();

  // ROLE rides in the same batch: it tells whether WAIT can be answered by
  // anyone, at no extra round trip. WAIT must follow on this very connection
  // (it covers the writes this connection made), hence one lock for all.
  if (auto st = queueLocked(commands, "confirmed pipeline"); !st) return st.error();
  if (redisAppendCommand(context_.get(), "ROLE") != REDIS_OK) return connectionLost("queue ROLE");
  ConfirmedReplies out;
  out.replies.reserve(commands.size());
  Reply role;
  for (size_t i = 0; i <= commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(context_.get(), &raw) != REDIS_OK || raw == nullptr)
      return connectionLost("confirmed pipeline of " + std::to_string(commands.size()) + " commands (reply " +
                            std::to_string(i + 1) + ")");
    ReplyPtr reply(static_cast<redisReply*>(raw));
    if (i < commands.size()) out.replies.push_back(convert(reply.get()));
    else role = convert(reply.get());
  }
  for (const auto& r : out.replies)
    if (r.isError() && isNotPrimaryError(r.str)) return notPrimary(r.str);
  for (const auto& r : out.replies)
    if (r.isError()) return Error::make(ErrorKind::Internal, kCommandError, r.str);

  WriteConfirmation& conf = out.confirmation;
  conf.primary = primary();
  if (role.isError() && !sentinelMode()) {
    // ROLE refused (an ACL without it): nothing to learn about replicas; a
    // logout must not fail for that. (Sentinel mode cannot get here: its
    // connect needs ROLE.)
    spdlog::debug("redis: ROLE refused ({}); write not confirmed", role.str);
    conf.outcome = WriteConfirmation::Outcome::NoReplica;
    return out;
  }
  const int connected = connectedReplicasOf(role);
  if (connected < 0) return notPrimary("ROLE " + (role.isError() ? role.str : roleOf(role)) + " after a write");
  conf.replicas = connected;
  if (connected == 0) {
    conf.outcome = WriteConfirmation::Outcome::NoReplica;
    // Standalone: nothing to fail over to, nothing a replica could lose. With
    // Sentinel, a primary without a replica is a degraded deployment: a
    // failover now would promote a replica that never saw this write.
    if (sentinelMode()) {
      unconfirmedWrites_.fetch_add(1);
      spdlog::warn("redis: write on {} not confirmed: the primary has no replica connected", conf.primary);
    }
    return out;
  }

  // WAIT blocks up to `timeout` on the server: the socket must wait longer.
  if (redisSetTimeout(context_.get(), toTimeval(timeout + options_.ioTimeout)) != REDIS_OK)
    return connectionLost("set WAIT timeout");
  const std::string wanted = std::to_string(std::max(replicas, 1));
  const std::string ms = std::to_string(std::max<long long>(timeout.count(), 1));
  ReplyPtr wait(static_cast<redisReply*>(
      redisCommand(context_.get(), "WAIT %b %b", wanted.data(), wanted.size(), ms.data(), ms.size())));
  if (!wait) return connectionLost("WAIT");
  if (redisSetTimeout(context_.get(), toTimeval(options_.ioTimeout)) != REDIS_OK)
    return connectionLost("restore I/O timeout");
  if (wait->type == REDIS_REPLY_ERROR) {
    std::string text(wait->str, wait->len);
    if (isNotPrimaryError(text)) return notPrimary(text);
    return Error::make(ErrorKind::Internal, kCommandError, "WAIT: " + text);
  }
  conf.acked = wait->type == REDIS_REPLY_INTEGER ? static_cast<int>(wait->integer) : 0;
  if (conf.acked >= std::max(replicas, 1)) {
    conf.outcome = WriteConfirmation::Outcome::Confirmed;
  } else {
    conf.outcome = WriteConfirmation::Outcome::Unconfirmed;
    unconfirmedWrites_.fetch_add(1);
    spdlog::warn("redis: write on {} confirmed by {} of {} connected replica(s) within {} ms (wanted {})",
                 conf.primary, conf.acked, conf.replicas, timeout.count(), wanted);
  }
  return out;
}

bool Client::ping() {
  auto r = command({"PING"});
  return r.ok() && r.value().type == Reply::Type::Status && r.value().str == "PONG";
}

Result<std::vector<Reply>> Client::pipelineAll(const std::vector<std::vector<std::string>>& commands) {
  auto replies = pipeline(commands);
  if (!replies) return replies.error();
  if (replies.value().size() != commands.size())
    return Error::make(ErrorKind::Internal, "redis_command_error", "reply count does not match");
  for (const auto& r : replies.value())
    if (r.isError()) return Error::make(ErrorKind::Internal, "redis_command_error", r.str);
  return replies;
}

}  // namespace proxyos::redis
