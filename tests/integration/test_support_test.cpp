// The test support library itself: processes, waiting, and the Redis and NATS
// servers every integration test relies on.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "tests/support/loopback.h"
#include "tests/support/process.h"
#include "tests/support/read_file.h"
#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_servers.h"
#include "tests/support/wait.h"

namespace proxyos::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using Stopwatch = std::chrono::steady_clock;

bool logContains(const std::string& path, const std::string& text) {
  try {
    return readFile(path).find(text) != std::string::npos;
  } catch (const std::runtime_error&) {
    return false;
  }
}

std::string redisPing(uint16_t port) {
  return loopbackRoundTrip(port, "PING\r\nQUIT\r\n", 1s).value_or("(no answer)");
}

// How many JetStream streams the server holds, from its monitoring port.
int natsStreamCount(uint16_t monitorPort) {
  auto reply = loopbackRoundTrip(monitorPort, "GET /jsz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 1s);
  if (!reply) return -1;
  auto at = reply->find("\"streams\": ");
  return at == std::string::npos ? -1 : std::stoi(reply->substr(at + 11));
}

// Asks for a file-backed stream over the raw NATS protocol (this library has
// no NATS client). The trailing unknown operation makes the server close the
// connection, which ends the round trip; the request before it still runs.
void createNatsStream(uint16_t port, const std::string& name) {
  std::string body = R"({"name":")" + name + R"(","subjects":[")" + name + R"(.>"],"storage":"file"})";
  loopbackRoundTrip(port,
                    "CONNECT {\"verbose\":false}\r\nPUB $JS.API.STREAM.CREATE." + name + " " +
                        std::to_string(body.size()) + "\r\n" + body + "\r\nPING\r\nGOODBYE\r\n",
                    1s);
}

/// A listening socket on a free loopback port, to make a server's bind fail.
class PortHolder {
 public:
  PortHolder() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 1) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("cannot hold a port");
    }
    port_ = ntohs(addr.sin_port);
  }
  ~PortHolder() { ::close(fd_); }
  uint16_t port() const { return port_; }

 private:
  int fd_;
  uint16_t port_ = 0;
};

TEST(TempDirTest, IsCreatedAndRemovedWithItsContents) {
  std::string path;
  {
    TempDir dir;
    path = dir.path();
    ASSERT_TRUE(std::filesystem::is_directory(path));
    std::filesystem::create_directories(path + "/a/b");
    std::ofstream(path + "/a/b/file") << "x";
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(WaitUntilTest, ReturnsOnceTrueAndGivesUpAtTheTimeout) {
  int calls = 0;
  EXPECT_TRUE(waitUntil([&] { return ++calls == 3; }, 5s, 1ms));
  EXPECT_EQ(calls, 3);

  auto start = Stopwatch::now();
  EXPECT_FALSE(waitUntil([] { return false; }, 100ms));
  auto elapsed = Stopwatch::now() - start;
  EXPECT_GE(elapsed, 100ms);
  EXPECT_LT(elapsed, 1s);
}

TEST(LoopbackTest, FreePortHasNoListener) {
  uint16_t port = freePort();
  EXPECT_NE(port, 0);
  EXPECT_FALSE(waitForPort(port, 50ms));
  PortHolder held;
  EXPECT_TRUE(waitForPort(held.port(), 1s));
}

TEST(ChildProcessTest, ReportsExitCodeAndAppendsOutputToTheLog) {
  TempDir dir;
  std::string log = dir.path() + "/child.log";
  std::ofstream(log) << "earlier\n";
  auto child = ChildProcess::start("sh", {"-c", "echo out; echo err >&2; echo \"$PROXYOS_TEST_VAR\"; exit 3"},
                                   {{"PROXYOS_TEST_VAR", "from-env"}}, log);
  EXPECT_EQ(child.wait(5s), 3);
  EXPECT_FALSE(child.running());
  EXPECT_EQ(readFile(log), "earlier\nout\nerr\nfrom-env\n");
}

TEST(ChildProcessTest, TerminateReturnsTheSignalExitCode) {
  TempDir dir;
  auto child = ChildProcess::start("sleep", {"30"}, {}, dir.path() + "/log");
  EXPECT_TRUE(child.running());
  EXPECT_EQ(child.terminate(), 128 + SIGTERM);
  EXPECT_FALSE(child.running());
}

TEST(ChildProcessTest, TerminateEscalatesToKillAfterTheGrace) {
  TempDir dir;
  std::string log = dir.path() + "/log";
  // The ignored SIGTERM survives exec, so sleep ignores it too.
  auto child = ChildProcess::start("sh", {"-c", "trap '' TERM; echo ready; exec sleep 30"}, {}, log);
  ASSERT_TRUE(waitUntil([&] { return logContains(log, "ready"); }, 5s));
  auto start = Stopwatch::now();
  EXPECT_EQ(child.terminate(200ms), 128 + SIGKILL);
  EXPECT_LT(Stopwatch::now() - start, 2s);
}

TEST(ChildProcessTest, InheritsNoFileDescriptors) {
  TempDir dir;
  std::string log = dir.path() + "/log";
  int leaky = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  ASSERT_GE(leaky, 0);
  std::string fd = std::to_string(leaky);
  auto child = ChildProcess::start(
      "sh", {"-c", "if [ -e /proc/self/fd/" + fd + " ]; then echo leaked; else echo clean; fi"}, {}, log);
  EXPECT_EQ(child.wait(5s), 0);
  ::close(leaky);
  EXPECT_EQ(readFile(log), "clean\n");
}

TEST(ChildProcessTest, OutlivesTheThreadThatStartedIt) {
  TempDir dir;
  ChildProcess child;
  std::thread([&] { child = ChildProcess::start("sleep", {"30"}, {}, dir.path() + "/log"); }).join();
  // Had the death signal been tied to that thread, the child would be gone by now.
  EXPECT_EQ(child.wait(200ms), std::nullopt);
  EXPECT_TRUE(child.running());
}

TEST(ChildProcessTest, MissingBinaryThrows) {
  TempDir dir;
  EXPECT_THROW(ChildProcess::start("proxyos-no-such-binary", {}, {}, dir.path() + "/log"), std::runtime_error);
  EXPECT_THROW(ChildProcess::start(dir.path(), {}, {}, dir.path() + "/log"), std::runtime_error);
}

TEST(ChildProcessTest, DestructorKillsAndMoveTransfersOwnership) {
  TempDir dir;
  pid_t pid;
  {
    auto first = ChildProcess::start("sleep", {"30"}, {}, dir.path() + "/log");
    ChildProcess second = std::move(first);
    pid = second.pid();
    EXPECT_EQ(first.pid(), -1);
    EXPECT_FALSE(first.running());
    EXPECT_TRUE(second.running());
  }
  EXPECT_NE(::kill(pid, 0), 0);  // reaped: no such process any more
}

TEST(ServerProcessTest, RetriesWithANewPortWhenTheFirstIsTaken) {
  PortHolder taken;
  std::atomic<int> launches{0};
  ServerProcess server({
      .name = "redis-server",
      .binary = "redis-server",
      .portCount = 1,
      .args =
          [&](const std::vector<uint16_t>& ports, const std::string& dir) {
            // The first launch is pointed at a port someone else holds.
            uint16_t port = launches++ == 0 ? taken.port() : ports[0];
            return std::vector<std::string>{"--port", std::to_string(port), "--bind", "127.0.0.1", "--dir", dir,
                                            "--save", ""};
          },
      .ready = [](const std::vector<uint16_t>& ports, pid_t) { return redisPing(ports[0]).starts_with("+PONG"); },
      .env = {},
      .startTimeout = 10s,
  });
  server.start();
  EXPECT_EQ(launches.load(), 2);
  EXPECT_NE(server.port(), taken.port());
  EXPECT_THAT(readFile(server.logPath()), HasSubstr("ddress already in use"));
}

TEST(ServerProcessTest, StartFailuresThrowWithTheLogTail) {
  auto never = [](const std::vector<uint16_t>&, pid_t) { return false; };
  auto shell = [](std::string script) {
    return [script](const std::vector<uint16_t>&, const std::string&) {
      return std::vector<std::string>{"-c", script};
    };
  };
  ServerProcess exits({.name = "exits",
                       .binary = "sh",
                       .portCount = 1,
                       .args = shell("echo no luck; exit 1"),
                       .ready = never,
                       .env = {},
                       .startTimeout = 5s});
  try {
    exits.start();
    FAIL() << "start() should throw";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("exited"));
    EXPECT_THAT(e.what(), HasSubstr("no luck"));
  }

  ServerProcess hangs({.name = "hangs",
                       .binary = "sh",
                       .portCount = 1,
                       .args = shell("echo booting; exec sleep 30"),
                       .ready = never,
                       .env = {},
                       .startTimeout = 300ms});
  auto start = Stopwatch::now();
  try {
    hangs.start();
    FAIL() << "start() should throw";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("timed out"));
    EXPECT_THAT(e.what(), HasSubstr("booting"));
  }
  EXPECT_LT(Stopwatch::now() - start, 3s);
  EXPECT_FALSE(hangs.running());
}

TEST(RedisServerTest, RestartKeepsThePortAndAnswersAgain) {
  RedisServer redis("pw");
  redis.start();
  uint16_t port = redis.port();
  EXPECT_EQ(redis.url(2), "redis://:pw@127.0.0.1:" + std::to_string(port) + "/2");
  EXPECT_THAT(redisPing(port), HasSubstr("NOAUTH"));  // the password is in force

  redis.stop();
  EXPECT_FALSE(waitForPort(port, 50ms));
  redis.restart();
  EXPECT_EQ(redis.port(), port);
  EXPECT_THAT(loopbackRoundTrip(port, "AUTH pw\r\nPING\r\nQUIT\r\n", 1s).value_or(""), HasSubstr("+PONG"));
}

TEST(NatsServerTest, RestartKeepsThePortAndTheStreams) {
  NatsServer nats;
  nats.start();
  uint16_t port = nats.port();
  EXPECT_EQ(nats.url(), "nats://127.0.0.1:" + std::to_string(port));
  EXPECT_THAT(loopbackRoundTrip(port, "PING\r\nGOODBYE\r\n", 1s).value_or(""), StartsWith("INFO "));

  createNatsStream(port, "KEEP");
  ASSERT_TRUE(waitUntil([&] { return natsStreamCount(nats.monitorPort()) == 1; }, 5s));

  nats.restart();  // graceful
  EXPECT_EQ(nats.port(), port);
  EXPECT_EQ(natsStreamCount(nats.monitorPort()), 1);

  nats.kill();  // as in a crash
  EXPECT_FALSE(waitForPort(port, 50ms));
  nats.restart();
  EXPECT_EQ(nats.port(), port);
  EXPECT_EQ(natsStreamCount(nats.monitorPort()), 1);
}

}  // namespace
}  // namespace proxyos::testing
