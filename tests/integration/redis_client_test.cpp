// The Redis client against a real redis-server (no mocks): binary safety,
// AUTH and SELECT, pipelining, error replies, and how it behaves when the
// server stops, restarts or stalls.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "shared/core/url.h"
#include "shared/redis/redis_client.h"
#include "tests/support/loopback.h"
#include "tests/support/test_servers.h"
#include "tests/support/wait.h"

namespace proxyos::redis {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using Stopwatch = std::chrono::steady_clock;

ClientOptions optionsFor(const std::string& url, std::chrono::milliseconds ioTimeout = 1000ms) {
  auto endpoint = parseRedisUrl(url);
  EXPECT_TRUE(endpoint.ok()) << url;
  ClientOptions options;
  options.endpoint = endpoint.value();
  options.ioTimeout = ioTimeout;
  return options;
}

std::chrono::milliseconds since(Stopwatch::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Stopwatch::now() - start);
}

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override { server_.start(); }

  proxyos::testing::RedisServer server_;
};

TEST_F(RedisClientTest, BinaryValueWithNulBytesRoundTrips) {
  Client client(optionsFor(server_.url()));
  const std::string key("bin\0key", 7);
  const std::string value("a\0b\r\n\0\xff" "c", 8);

  auto set = client.command({"SET", key, value});
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set.value().type, Reply::Type::Status);
  EXPECT_EQ(set.value().str, "OK");

  auto get = client.command({"GET", key});
  ASSERT_TRUE(get.ok()) << get.error().message;
  EXPECT_EQ(get.value().type, Reply::Type::String);
  EXPECT_EQ(get.value().str, value);
  EXPECT_EQ(get.value().str.size(), 8u);
}

TEST_F(RedisClientTest, MissingKeyIsNilAndArraysAreNested) {
  Client client(optionsFor(server_.url()));
  auto get = client.command({"GET", "absent"});
  ASSERT_TRUE(get.ok());
  EXPECT_TRUE(get.value().isNil());

  ASSERT_TRUE(client.command({"RPUSH", "list", "x", "y"}).ok());
  auto range = client.command({"LRANGE", "list", "0", "-1"});
  ASSERT_TRUE(range.ok());
  ASSERT_EQ(range.value().type, Reply::Type::Array);
  ASSERT_EQ(range.value().elements.size(), 2u);
  EXPECT_EQ(range.value().elements[0].str, "x");
  EXPECT_EQ(range.value().elements[1].str, "y");
}

TEST(RedisClientAuthTest, PasswordAndDatabaseAreApplied) {
  proxyos::testing::RedisServer server("s3cret-pw");
  server.start();
  Client db3(optionsFor(server.url(3)));
  Client db0(optionsFor(server.url(0)));

  auto set = db3.command({"SET", "only-in-3", "v"});
  ASSERT_TRUE(set.ok()) << set.error().message;
  auto inDb3 = db3.command({"GET", "only-in-3"});
  ASSERT_TRUE(inDb3.ok());
  EXPECT_EQ(inDb3.value().str, "v");
  auto inDb0 = db0.command({"GET", "only-in-3"});
  ASSERT_TRUE(inDb0.ok()) << inDb0.error().message;
  EXPECT_TRUE(inDb0.value().isNil());
}

TEST(RedisClientAuthTest, WrongPasswordIsUnavailableAndNotLeaked) {
  proxyos::testing::RedisServer server("right-pw");
  server.start();
  ClientOptions options = optionsFor(server.url());
  options.endpoint.password = "wrong-pw-123";
  Client client(options);

  auto r = client.command({"PING"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Unavailable);
  EXPECT_EQ(r.error().code, "redis_unavailable");
  EXPECT_THAT(r.error().message, HasSubstr("authentication"));
  EXPECT_THAT(r.error().message, Not(HasSubstr("wrong-pw-123")));
  EXPECT_FALSE(client.ping());
}

TEST_F(RedisClientTest, PipelineOfHundredIncrsReturnsOneToHundred) {
  Client client(optionsFor(server_.url()));
  std::vector<std::vector<std::string>> commands(100, {"INCR", "counter"});

  auto replies = client.pipeline(commands);
  ASSERT_TRUE(replies.ok()) << replies.error().message;
  ASSERT_EQ(replies.value().size(), 100u);
  for (size_t i = 0; i < 100; ++i) {
    EXPECT_EQ(replies.value()[i].type, Reply::Type::Integer);
    EXPECT_EQ(replies.value()[i].integer, static_cast<long long>(i + 1));
  }
}

TEST_F(RedisClientTest, PipelineReturnsPerCommandErrorsInPlace) {
  Client client(optionsFor(server_.url()));
  auto replies = client.pipeline({{"SET", "s", "text"}, {"LPUSH", "s", "x"}, {"GET", "s"}});
  ASSERT_TRUE(replies.ok()) << replies.error().message;
  ASSERT_EQ(replies.value().size(), 3u);
  EXPECT_EQ(replies.value()[1].type, Reply::Type::Error);
  EXPECT_THAT(replies.value()[1].str, HasSubstr("WRONGTYPE"));
  EXPECT_EQ(replies.value()[2].str, "text");
}

TEST_F(RedisClientTest, ErrorReplyIsCommandErrorAndConnectionStaysUsable) {
  Client client(optionsFor(server_.url()));
  ASSERT_TRUE(client.command({"SET", "s", "text"}).ok());

  auto wrong = client.command({"LPUSH", "s", "x"});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().kind, ErrorKind::Internal);
  EXPECT_EQ(wrong.error().code, "redis_command_error");
  EXPECT_THAT(wrong.error().message, HasSubstr("WRONGTYPE"));

  auto get = client.command({"GET", "s"});
  ASSERT_TRUE(get.ok()) << get.error().message;
  EXPECT_EQ(get.value().str, "text");
}

TEST(RedisClientNoServerTest, RefusedConnectionIsUnavailable) {
  ClientOptions options;
  options.endpoint.port = proxyos::testing::freePort();  // nothing listens there
  Client client(options);

  auto start = Stopwatch::now();
  auto r = client.command({"PING"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Unavailable);
  EXPECT_EQ(r.error().code, "redis_unavailable");
  EXPECT_THAT(r.error().message, HasSubstr("connect"));
  EXPECT_LT(since(start), 1000ms);
  EXPECT_EQ(client.commandsSent(), 0u);
}

TEST_F(RedisClientTest, StoppedServerIsUnavailablePromptly) {
  Client client(optionsFor(server_.url()));
  ASSERT_TRUE(client.ping());
  server_.stop();

  for (int i = 0; i < 2; ++i) {  // the closed connection is noticed, the reconnect refused
    auto start = Stopwatch::now();
    auto r = client.command({"GET", "k"});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, ErrorKind::Unavailable);
    EXPECT_EQ(r.error().code, "redis_unavailable");
    EXPECT_LT(since(start), 500ms) << r.error().message;
  }
}

TEST_F(RedisClientTest, RestartedServerIsUsedByTheSameClient) {
  Client client(optionsFor(server_.url()));
  ASSERT_TRUE(client.ping());
  server_.stop();
  EXPECT_FALSE(client.ping());
  server_.restart();

  auto r = client.command({"SET", "after", "restart"});
  ASSERT_TRUE(r.ok()) << r.error().message;
}

TEST_F(RedisClientTest, ConnectionClosedWhileIdleIsReplacedBeforeSending) {
  Client client(optionsFor(server_.url()));
  ASSERT_TRUE(client.ping());
  server_.restart();  // no call in between: the client still holds the old connection

  auto r = client.command({"SET", "after", "restart"});
  ASSERT_TRUE(r.ok()) << r.error().message;
}

TEST_F(RedisClientTest, IoTimeoutBoundsASlowCommand) {
  Client client(optionsFor(server_.url(), 300ms));
  ASSERT_TRUE(client.ping());

  auto start = Stopwatch::now();
  auto r = client.command({"DEBUG", "SLEEP", "2"});
  auto elapsed = since(start);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Unavailable);
  EXPECT_THAT(r.error().message, HasSubstr("timed out"));
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 1500ms);

  // The server answers nobody until its sleep ends; then the same client works.
  EXPECT_TRUE(proxyos::testing::waitUntil([&] { return client.ping(); }, 5s));
}

TEST_F(RedisClientTest, CommandsSentCountsCallerCommands) {
  Client client(optionsFor(server_.url()));
  EXPECT_EQ(client.commandsSent(), 0u);
  ASSERT_TRUE(client.ping());  // the connect itself sends nothing counted
  EXPECT_EQ(client.commandsSent(), 1u);
  ASSERT_TRUE(client.command({"SET", "k", "v"}).ok());
  EXPECT_EQ(client.commandsSent(), 2u);
  ASSERT_TRUE(client.pipeline({{"GET", "k"}, {"GET", "k"}, {"GET", "k"}}).ok());
  EXPECT_EQ(client.commandsSent(), 5u);
  EXPECT_FALSE(client.command({"LPUSH", "k", "x"}).ok());  // sent, answered with an error
  EXPECT_EQ(client.commandsSent(), 6u);

  auto shutdown = client.command({"SHUTDOWN", "NOSAVE"});  // written; the server exits without a reply
  ASSERT_FALSE(shutdown.ok());
  EXPECT_EQ(shutdown.error().kind, ErrorKind::Unavailable);
  EXPECT_EQ(client.commandsSent(), 7u);
  EXPECT_FALSE(client.ping());  // connect refused: nothing written
  EXPECT_EQ(client.commandsSent(), 7u);
}

TEST_F(RedisClientTest, ConcurrentCallersShareOneClient) {
  Client client(optionsFor(server_.url()));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) EXPECT_TRUE(client.command({"INCR", "shared"}).ok());
    });
  }
  for (auto& t : threads) t.join();
  auto r = client.command({"GET", "shared"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().str, "800");
  EXPECT_EQ(client.commandsSent(), 801u);
}

}  // namespace
}  // namespace proxyos::redis
