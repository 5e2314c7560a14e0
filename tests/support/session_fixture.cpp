#include "tests/support/session_fixture.h"

#include <stdexcept>

#include "shared/core/url.h"
#include "shared/redis/redis_client.h"
#include "shared/session/cookie_codec.h"
#include "shared/session/redis_session_store.h"
#include "shared/session/session_verifier.h"

namespace proxyos::testing {

std::string issueSessionCookie(const std::string& redisUrl, const std::string& secret, session::Role role,
                               const std::string& username, std::vector<std::string> groups,
                               std::chrono::seconds ttl) {
  auto endpoint = parseRedisUrl(redisUrl);
  if (!endpoint) throw std::runtime_error("bad redis url: " + endpoint.error().message);
  redis::Client client({endpoint.value()});
  session::RedisSessionStore store(client);
  const auto& clock = SystemClock::instance();
  const std::string token = session::newToken();
  session::Session s{session::sessionId(token), "user-" + username, username, username + "@example.com",
                     std::move(groups), role, clock.now(), clock.now(), "127.0.0.1", "test"};
  auto put = store.put(s, ttl.count() > 0 ? ttl : session::storeTtl({}, s, clock.now()));
  if (!put) throw std::runtime_error("cannot write session: " + put.error().message);
  return std::string(session::kCookieName) + "=" + session::encodeCookie(session::SigningKeys(secret, {}), token);
}

}  // namespace proxyos::testing
