#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shared/core/error.h"

namespace proxyos {

/// An absolute URL split into parts. Only what ProxyOS needs: no relative
/// references, no percent-decoding of the host.
struct Url {
  std::string scheme;    // lower-cased
  std::string userinfo;  // raw, may be empty
  std::string host;      // lower-cased; IPv6 without brackets
  uint16_t port = 0;     // explicit port, or the scheme's default
  bool explicitPort = false;
  std::string path;      // "" or starting with '/'
  std::string query;     // without '?'
  std::string fragment;  // without '#'

  /// scheme://host[:port] with the port omitted when it is the default.
  std::string origin() const;
  /// host[:port] as it appears in a Host header.
  std::string authority() const;
};

/// Parses an absolute http(s)/redis/nats URL. The error message says what is wrong
/// ("missing scheme", "port out of range"), without a field name.
Result<Url> parseUrl(const std::string& text);

uint16_t defaultPort(const std::string& scheme);

/// Percent-encodes every byte outside RFC 3986's unreserved set
/// (A-Z a-z 0-9 - . _ ~), upper-case hex: safe as a query value (rd=...).
std::string percentEncode(std::string_view s);

/// host:port as in PROXYOS_LISTEN. ":8080" means all interfaces.
struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string str() const;
};
Result<HostPort> parseHostPort(const std::string& text);

/// redis://[:password@]host[:port][/db], and optionally the Sentinels that
/// name the primary. With `sentinels` set (PROXYOS_REDIS_SENTINEL), host and
/// port are unused: the client asks the Sentinels for `sentinelMaster` on
/// every (re)connect; password and db still apply to the primary.
struct RedisEndpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  std::string password;
  int db = 0;
  std::vector<HostPort> sentinels;          // empty: talk to host:port directly
  std::string sentinelMaster = "proxyos";   // PROXYOS_REDIS_MASTER
};
Result<RedisEndpoint> parseRedisUrl(const std::string& text);

}  // namespace proxyos
