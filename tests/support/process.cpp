#include "tests/support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>

#include "tests/support/wait.h"

extern char** environ;

namespace proxyos::testing {
namespace {

std::runtime_error systemError(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

// Keeps our descriptors off 0-2 so the dup2 calls in the child cannot clobber
// one another even when the test process runs with a closed stdin.
int aboveStdio(int fd) {
  if (fd < 0 || fd > 2) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  ::close(fd);
  return moved;
}

std::string resolveBinary(const std::string& binary) {
  if (binary.find('/') != std::string::npos) return binary;
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t begin = 0;
  while (begin <= dirs.size()) {
    size_t end = dirs.find(':', begin);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(begin, end - begin);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + binary;
    struct stat st{};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    begin = end + 1;
  }
  throw std::runtime_error("binary not found on PATH: " + binary);
}

std::vector<std::string> mergedEnvironment(const std::map<std::string, std::string>& overrides) {
  std::map<std::string, std::string> merged;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry = *e;
    size_t eq = entry.find('=');
    if (eq == std::string::npos) continue;
    merged[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& [key, value] : overrides) merged[key] = value;
  std::vector<std::string> out;
  out.reserve(merged.size());
  for (const auto& [key, value] : merged) out.push_back(key + "=" + value);
  return out;
}

std::vector<char*> cStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Runs between fork and exec: async-signal-safe calls only (the test process
// may be multithreaded, so no allocation and no locks here).
[[noreturn]] void execChild(pid_t parent, int nullFd, int logFd, int errorFd, const char* path, char* const* argv,
                            char* const* envp) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect

  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD}) ::sigaction(sig, &dfl, nullptr);

  ::dup2(nullFd, 0);
  ::dup2(logFd, 1);
  ::dup2(logFd, 2);
  for (int fd = 0; fd <= 2; ++fd) ::fcntl(fd, F_SETFD, 0);
  if (errorFd > 3) ::close_range(3, static_cast<unsigned>(errorFd) - 1, 0);
  ::close_range(static_cast<unsigned>(errorFd) + 1, ~0U, 0);

  ::execve(path, argv, envp);
  int err = errno;
  ssize_t ignored = ::write(errorFd, &err, sizeof err);
  (void)ignored;
  ::_exit(127);
}

// PR_SET_PDEATHSIG fires when the *thread* that forked dies, not the process:
// a server started from a short-lived test thread would be killed as soon as
// that thread ends. So every fork happens on this one thread, which lives as
// long as the test process, and the death signal means "the test process died".
class Spawner {
 public:
  static Spawner& instance() {
    static Spawner* spawner = new Spawner;  // never destroyed: its thread runs until the process exits
    return *spawner;
  }

  void run(std::function<void()> job) {
    std::packaged_task<void()> task(std::move(job));
    auto done = task.get_future();
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(task));
    }
    cv_.notify_one();
    done.get();
  }

 private:
  Spawner() {
    std::thread([this] {
      for (;;) {
        std::packaged_task<void()> task;
        {
          std::unique_lock lock(mu_);
          cv_.wait(lock, [this] { return !jobs_.empty(); });
          task = std::move(jobs_.front());
          jobs_.pop_front();
        }
        task();
      }
    }).detach();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<void()>> jobs_;
};

}  // namespace

ChildProcess ChildProcess::start(const std::string& binary, const std::vector<std::string>& args,
                                 const std::map<std::string, std::string>& env, const std::string& logPath) {
  // Everything the child needs is prepared before fork.
  std::string path = resolveBinary(binary);
  std::vector<std::string> argvStrings{binary};
  argvStrings.insert(argvStrings.end(), args.begin(), args.end());
  std::vector<std::string> envStrings = mergedEnvironment(env);
  std::vector<char*> argv = cStrings(argvStrings);
  std::vector<char*> envp = cStrings(envStrings);

  int logFd = aboveStdio(::open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (logFd < 0) throw systemError("cannot open log " + logPath);
  int nullFd = aboveStdio(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  // The child reports a failed exec through this pipe; a successful exec closes it (CLOEXEC).
  int errorPipe[2] = {-1, -1};
  if (nullFd < 0 || ::pipe2(errorPipe, O_CLOEXEC) != 0) {
    auto error = systemError("cannot prepare child process");
    ::close(logFd);
    if (nullFd >= 0) ::close(nullFd);
    throw error;
  }
  errorPipe[0] = aboveStdio(errorPipe[0]);
  errorPipe[1] = aboveStdio(errorPipe[1]);

  pid_t parent = ::getpid();
  pid_t pid = -1;
  int forkErrno = 0;
  Spawner::instance().run([&] {
    pid = ::fork();
    if (pid == 0) execChild(parent, nullFd, logFd, errorPipe[1], path.c_str(), argv.data(), envp.data());
    forkErrno = errno;
  });
  ::close(errorPipe[1]);
  ::close(logFd);
  ::close(nullFd);
  if (pid < 0) {
    ::close(errorPipe[0]);
    errno = forkErrno;
    throw systemError("fork");
  }

  int childErrno = 0;
  ssize_t n;
  do {
    n = ::read(errorPipe[0], &childErrno, sizeof childErrno);
  } while (n < 0 && errno == EINTR);
  ::close(errorPipe[0]);
  ChildProcess child(pid);
  if (n == static_cast<ssize_t>(sizeof childErrno)) {
    child.reap(true);
    throw std::runtime_error("cannot execute " + path + ": " + std::strerror(childErrno));
  }
  return child;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), exitCode_(std::exchange(other.exitCode_, std::nullopt)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    kill();
    pid_ = std::exchange(other.pid_, -1);
    exitCode_ = std::exchange(other.exitCode_, std::nullopt);
  }
  return *this;
}

ChildProcess::~ChildProcess() { kill(); }

bool ChildProcess::reap(bool block) {
  if (exitCode_) return true;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return false;
  if (r < 0) {
    exitCode_ = -1;  // not our child any more (ECHILD): nothing left to wait for
  } else if (WIFEXITED(status)) {
    exitCode_ = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    exitCode_ = 128 + WTERMSIG(status);
  } else {
    return false;  // stopped/continued: still alive
  }
  return true;
}

bool ChildProcess::running() { return pid_ > 0 && !reap(false); }

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  if (!waitUntil([this] { return reap(false); }, timeout, std::chrono::milliseconds(5))) return std::nullopt;
  return exitCode_;
}

int ChildProcess::terminate(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  if (!reap(false)) {
    ::kill(pid_, SIGTERM);
    if (!wait(grace)) {
      ::kill(pid_, SIGKILL);
      reap(true);
    }
  }
  return *exitCode_;
}

void ChildProcess::kill() {
  if (pid_ <= 0 || reap(false)) return;
  ::kill(pid_, SIGKILL);
  reap(true);
}

}  // namespace proxyos::testing
