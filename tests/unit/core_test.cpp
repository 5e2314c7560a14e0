#include <gtest/gtest.h>

#include <set>

#include "shared/core/cli.h"
#include "shared/core/config.h"
#include "shared/core/id.h"
#include "shared/core/log.h"
#include "shared/core/time_format.h"
#include "shared/core/url.h"

namespace proxyos {
namespace {

const std::string kSecret(32, 's');

MapEnv env(std::map<std::string, std::string> vars) {
  vars.emplace("PROXYOS_SECRET", kSecret);
  return MapEnv(std::move(vars));
}

std::string configError(const Env& e) {
  try {
    loadCommonConfig(e, "127.0.0.1:7002");
  } catch (const ConfigError& err) {
    return err.what();
  }
  return "";
}

TEST(Config, DefaultsApply) {
  auto c = loadCommonConfig(env({}), "127.0.0.1:7002");
  EXPECT_EQ(c.listen.str(), "127.0.0.1:7002");
  EXPECT_EQ(c.publicUrl.origin(), "http://localhost:8080");
  EXPECT_EQ(c.redis.port, 6379);
  EXPECT_EQ(c.natsServers, std::vector<std::string>{"nats://127.0.0.1:4222"});
  EXPECT_EQ(c.logFormat, "text");
}

TEST(Config, SecretMissingOrShortNamesTheVariable) {
  EXPECT_EQ(configError(MapEnv()), "PROXYOS_SECRET is required but not set");
  const auto shortSecret = configError(MapEnv(std::map<std::string, std::string>{{"PROXYOS_SECRET", "tooshort"}}));
  EXPECT_NE(shortSecret.find("PROXYOS_SECRET must be at least 32 bytes (got 8)"), std::string::npos) << shortSecret;
  EXPECT_NE(configError(env({{"PROXYOS_SECRET_PREVIOUS", "abc"}})).find("PROXYOS_SECRET_PREVIOUS"), std::string::npos);
}

// Every bad value is one line that starts with the variable's name.
TEST(Config, BadValuesNameTheVariable) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"PROXYOS_URL", "ftp://x"},           {"PROXYOS_URL", "not a url"},
      {"PROXYOS_REDIS_URL", "http://x:1"},  {"PROXYOS_REDIS_URL", "redis://x:99999"},
      {"PROXYOS_REDIS_URL", "redis://x/99"}, {"PROXYOS_NATS_URL", "http://x"},
      {"PROXYOS_NATS_REPLICAS", "three"},   {"PROXYOS_NATS_REPLICAS", "9"},
      {"PROXYOS_LISTEN", "7002"},           {"PROXYOS_LISTEN", "127.0.0.1:70000"},
      {"PROXYOS_TRUSTED_PROXIES", "10.0.0.0/33"}, {"PROXYOS_TRUSTED_PROXIES", "nope"},
      {"PROXYOS_LOG_LEVEL", "loud"},        {"PROXYOS_LOG_FORMAT", "xml"},
  };
  for (const auto& [name, value] : cases) {
    const std::string msg = configError(env({{name, value}}));
    EXPECT_EQ(msg.rfind(name, 0), 0u) << name << "=" << value << " -> " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos);
  }
}

TEST(Config, RedisPasswordIsParsedButNeverEchoed) {
  auto c = loadCommonConfig(env({{"PROXYOS_REDIS_URL", "redis://:hunter2@redis:6380/3"}}), ":7002");
  EXPECT_EQ(c.redis.password, "hunter2");
  EXPECT_EQ(c.redis.host, "redis");
  EXPECT_EQ(c.redis.port, 6380);
  EXPECT_EQ(c.redis.db, 3);
  const auto msg = configError(env({{"PROXYOS_REDIS_URL", "redis://:hunter2@redis:0/3"}}));
  EXPECT_FALSE(msg.empty());
  EXPECT_EQ(msg.find("hunter2"), std::string::npos) << msg;
}

TEST(Config, RedisSentinelListAndMaster) {
  auto c = loadCommonConfig(env({{"PROXYOS_REDIS_SENTINEL", "s1:26379, 10.0.0.2:26380,[::1]:26381"},
                                 {"PROXYOS_REDIS_MASTER", "main-1"},
                                 {"PROXYOS_REDIS_URL", "redis://:hunter2@ignored:6380/3"}}),
                            ":7002");
  ASSERT_EQ(c.redis.sentinels.size(), 3u);
  EXPECT_EQ(c.redis.sentinels[0].str(), "s1:26379");
  EXPECT_EQ(c.redis.sentinels[1].host, "10.0.0.2");
  EXPECT_EQ(c.redis.sentinels[1].port, 26380);
  EXPECT_EQ(c.redis.sentinels[2].host, "::1");
  EXPECT_EQ(c.redis.sentinelMaster, "main-1");
  // PROXYOS_REDIS_URL still carries the credentials and the database.
  EXPECT_EQ(c.redis.password, "hunter2");
  EXPECT_EQ(c.redis.db, 3);
}

TEST(Config, RedisSentinelDefaultsAndStandalone) {
  auto standalone = loadCommonConfig(env({{"PROXYOS_REDIS_MASTER", "whatever"}}), ":7002");
  EXPECT_TRUE(standalone.redis.sentinels.empty());  // PROXYOS_REDIS_MASTER alone changes nothing
  auto sentinel = loadCommonConfig(env({{"PROXYOS_REDIS_SENTINEL", "sentinel:26379"}}), ":7002");
  ASSERT_EQ(sentinel.redis.sentinels.size(), 1u);
  EXPECT_EQ(sentinel.redis.sentinelMaster, "proxyos");
  EXPECT_EQ(sentinel.redis.db, 0);
  EXPECT_TRUE(sentinel.redis.password.empty());
}

TEST(Config, RedisSentinelBadValuesNameTheVariable) {
  const std::vector<std::pair<std::map<std::string, std::string>, std::string>> cases = {
      {{{"PROXYOS_REDIS_SENTINEL", "sentinel"}}, "PROXYOS_REDIS_SENTINEL: \"sentinel\": expected host:port"},
      {{{"PROXYOS_REDIS_SENTINEL", "a:26379,b:99999"}}, "PROXYOS_REDIS_SENTINEL: \"b:99999\""},
      {{{"PROXYOS_REDIS_SENTINEL", ":26379"}}, "PROXYOS_REDIS_SENTINEL: \":26379\" needs a host and a port"},
      {{{"PROXYOS_REDIS_SENTINEL", "a:0"}}, "PROXYOS_REDIS_SENTINEL: \"a:0\" needs a host and a port"},
      {{{"PROXYOS_REDIS_SENTINEL", " , "}}, "PROXYOS_REDIS_SENTINEL has no host:port in it"},
      {{{"PROXYOS_REDIS_SENTINEL", "a:26379"}, {"PROXYOS_REDIS_MASTER", "my master"}},
       "PROXYOS_REDIS_MASTER=\"my master\" must be 1-64 characters"},
      {{{"PROXYOS_REDIS_SENTINEL", "a:26379"}, {"PROXYOS_REDIS_URL", "redis://:hunter2@x/99"}},
       "PROXYOS_REDIS_URL: database must be a number 0-15"},
  };
  for (const auto& [vars, expected] : cases) {
    const std::string msg = configError(env(vars));
    EXPECT_EQ(msg.rfind(expected, 0), 0u) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_EQ(msg.find("hunter2"), std::string::npos) << msg;
  }
}

TEST(Cli, HelpListsTheRedisSentinelVariables) {
  const auto text = helpText(ProgramInfo{"proxyos-x", "Does x.", commonVarSpecs("127.0.0.1:1")});
  EXPECT_NE(text.find("PROXYOS_REDIS_SENTINEL"), std::string::npos);
  EXPECT_NE(text.find("PROXYOS_REDIS_MASTER"), std::string::npos);
}

TEST(Config, NatsListIsSplit) {
  auto c = loadCommonConfig(env({{"PROXYOS_NATS_URL", "nats://a:4222, nats://b:4222"}}), ":7002");
  EXPECT_EQ(c.natsServers, (std::vector<std::string>{"nats://a:4222", "nats://b:4222"}));
}

TEST(Cli, HelpListsEveryVariable) {
  ProgramInfo info{"proxyos-x", "Does x.", commonVarSpecs("127.0.0.1:1")};
  const auto text = helpText(info);
  for (const auto& v : info.vars) EXPECT_NE(text.find(v.name), std::string::npos) << v.name;
}

TEST(Url, ParsesAndNormalizes) {
  auto u = parseUrl("HTTPS://Example.COM:8443/a/b?x=1#f").value();
  EXPECT_EQ(u.scheme, "https");
  EXPECT_EQ(u.host, "example.com");
  EXPECT_EQ(u.port, 8443);
  EXPECT_EQ(u.path, "/a/b");
  EXPECT_EQ(u.query, "x=1");
  EXPECT_EQ(u.origin(), "https://example.com:8443");
  EXPECT_EQ(parseUrl("http://a:80").value().origin(), "http://a");
  EXPECT_EQ(parseUrl("http://[::1]:8080/").value().host, "::1");
  EXPECT_FALSE(parseUrl("http://").ok());
  EXPECT_FALSE(parseUrl("example.com").ok());
  EXPECT_FALSE(parseUrl("http://a:0").ok());
  EXPECT_FALSE(parseUrl("http://a b").ok());
}

TEST(Url, HostPort) {
  EXPECT_EQ(parseHostPort(":8080").value().str(), "0.0.0.0:8080");
  EXPECT_EQ(parseHostPort("[::1]:7").value().host, "::1");
  EXPECT_EQ(parseHostPort("127.0.0.1:0").value().port, 0);
  EXPECT_FALSE(parseHostPort("localhost").ok());
}

TEST(Id, UniqueSortableAndValid) {
  FakeClock clock;
  std::set<std::string> ids;
  std::string prev;
  for (int i = 0; i < 200; ++i) {
    clock.advance(std::chrono::milliseconds(1));
    auto id = newId(clock);
    EXPECT_EQ(id.size(), 26u);
    EXPECT_TRUE(isValidId(id));
    EXPECT_GT(id, prev);
    prev = id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 200u);
  EXPECT_FALSE(isValidId("../etc"));
  EXPECT_FALSE(isValidId(""));
  EXPECT_FALSE(isValidId("UPPER"));
}

TEST(TimeFormat, RoundTrip) {
  FakeClock clock;
  clock.advance(std::chrono::milliseconds(1234));
  EXPECT_EQ(formatTime(clock.now()), "2026-01-01T00:00:01.234Z");
  EXPECT_EQ(parseTime("2026-01-01T00:00:01.234Z").value(), clock.now());
  EXPECT_FALSE(parseTime("yesterday").has_value());
}

TEST(Log, JsonEscape) { EXPECT_EQ(jsonEscape("a\"b\\c\nd\x01"), "a\\\"b\\\\c\\nd\\u0001"); }

}  // namespace
}  // namespace proxyos
