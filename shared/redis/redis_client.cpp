#include "shared/redis/redis_client.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace proxyos::redis {
namespace {

constexpr const char* kUnavailable = "redis_unavailable";
constexpr const char* kCommandError = "redis_command_error";

timeval toTimeval(std::chrono::milliseconds d) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

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
  return Error::make(ErrorKind::Unavailable, kUnavailable,
                     "redis " + options_.endpoint.host + ":" + std::to_string(options_.endpoint.port) + ": " + what);
}

std::string Client::describeFailure(const redisContext* c) const {
  if (c == nullptr || c->err == 0) return "connection lost";
  std::string cause = c->errstr;
  // SO_RCVTIMEO/SO_SNDTIMEO expiring shows up as EAGAIN.
  if (c->err == REDIS_ERR_IO && (cause == std::strerror(EAGAIN) || cause == std::strerror(EWOULDBLOCK))) {
    cause = "timed out after " + std::to_string(options_.ioTimeout.count()) + " ms";
  }
  return cause;
}

Error Client::connectionLost(const std::string& during) {
  std::string cause = describeFailure(context_.get());
  context_.reset();  // dead: the next call reconnects
  return unavailable(during + ": " + cause);
}

Result<Client::ContextPtr> Client::connect() const {
  const RedisEndpoint& ep = options_.endpoint;
  ContextPtr c(redisConnectWithTimeout(ep.host.c_str(), ep.port, toTimeval(options_.connectTimeout)));
  if (!c) return unavailable("connect: out of memory");
  if (c->err != 0) {
    std::string cause = c->errstr;
    if (cause == std::strerror(ETIMEDOUT) || cause == std::strerror(EINPROGRESS)) {
      cause = "timed out after " + std::to_string(options_.connectTimeout.count()) + " ms";
    }
    return unavailable("connect: " + cause);
  }
  if (redisSetTimeout(c.get(), toTimeval(options_.ioTimeout)) != REDIS_OK) {
    return unavailable(std::string("set I/O timeout: ") + c->errstr);
  }
  redisEnableKeepAlive(c.get());  // best effort: notices a vanished peer on idle connections

  // Messages name the step, never the arguments (AUTH carries the password).
  auto handshake = [&](const std::vector<std::string>& args, const std::string& step,
                       const std::string& refused) -> Status {
    Argv argv(args);
    ReplyPtr r(static_cast<redisReply*>(redisCommandArgv(c.get(), argv.argc(), argv.ptrs.data(), argv.lens.data())));
    if (!r) return unavailable(step + ": " + describeFailure(c.get()));
    if (r->type == REDIS_REPLY_ERROR) return unavailable(refused + ": " + std::string(r->str, r->len));
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

Status Client::ensureConnectedLocked() {
  if (context_ && isStale(context_.get())) context_.reset();
  if (context_) return okStatus();
  auto c = connect();
  if (!c) return c.error();
  context_ = std::move(c).value();
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
    return Error::make(ErrorKind::Internal, kCommandError, std::string(reply->str, reply->len));
  }
  return convert(reply.get());
}

Result<std::vector<Reply>> Client::pipeline(const std::vector<std::vector<std::string>>& commands) {
  if (commands.empty()) return std::vector<Reply>{};
  for (const auto& args : commands) {
    if (args.empty()) return Error::make(ErrorKind::Internal, kCommandError, "empty redis command in pipeline");
  }
  SigpipeGuard guard;
  std::lock_guard lock(mu_);
  if (auto st = ensureConnectedLocked(); !st) return st.error();

  for (const auto& args : commands) {
    Argv argv(args);
    if (redisAppendCommandArgv(context_.get(), argv.argc(), argv.ptrs.data(), argv.lens.data()) != REDIS_OK) {
      return connectionLost("queue pipeline");
    }
  }
  commandsSent_.fetch_add(commands.size());
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
  return replies;
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
