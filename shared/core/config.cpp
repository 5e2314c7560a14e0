#include "shared/core/config.h"

#include "shared/core/cidr.h"

#include <charconv>
#include <cstdlib>

namespace proxyos {

std::optional<std::string> ProcessEnv::get(const std::string& name) const {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

std::optional<std::string> MapEnv::get(const std::string& name) const {
  auto it = vars_.find(name);
  if (it == vars_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> splitList(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    const auto b = cur.find_first_not_of(" \t");
    const auto e = cur.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(cur.substr(b, e - b + 1));
    cur.clear();
  };
  for (char c : text) {
    if (c == sep) flush();
    else cur += c;
  }
  flush();
  return out;
}

std::string envString(const Env& env, const std::string& name, const std::string& fallback) {
  auto v = env.get(name);
  return v && !v->empty() ? *v : fallback;
}

std::string envRequired(const Env& env, const std::string& name) {
  auto v = env.get(name);
  if (!v || v->empty()) throw ConfigError(name + " is required but not set");
  return *v;
}

int envInt(const Env& env, const std::string& name, int fallback, int min, int max) {
  auto v = env.get(name);
  if (!v || v->empty()) return fallback;
  int out = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || p != v->data() + v->size())
    throw ConfigError(name + "=\"" + *v + "\" is not a whole number");
  if (out < min || out > max)
    throw ConfigError(name + "=" + *v + " is out of range " + std::to_string(min) + "-" + std::to_string(max));
  return out;
}

HostPort envHostPort(const Env& env, const std::string& name, const std::string& fallback) {
  const std::string v = envString(env, name, fallback);
  auto hp = parseHostPort(v);
  if (!hp) throw ConfigError(name + "=\"" + v + "\": " + hp.error().message);
  return hp.value();
}

Url envUrl(const Env& env, const std::string& name, const std::string& fallback) {
  const std::string v = envString(env, name, fallback);
  auto u = parseUrl(v);
  if (!u) throw ConfigError(name + "=\"" + v + "\": " + u.error().message);
  return u.value();
}

namespace {

void checkCidr(const std::string& name, const std::string& cidr) {
  if (!Cidr::parse(cidr)) throw ConfigError(name + ": \"" + cidr + "\" is not an IP address or CIDR");
}

bool validMasterName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (const char ch : name) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                    ch == '_' || ch == '-';
    if (!ok) return false;
  }
  return true;
}

// Sentinel mode: PROXYOS_REDIS_SENTINEL names where to ask for the primary;
// PROXYOS_REDIS_URL keeps supplying the password and db (one place for the
// credentials in both modes). PROXYOS_REDIS_MASTER alone is ignored, so one
// .env can serve a single-node and a Sentinel deployment.
void loadRedisSentinel(const Env& env, RedisEndpoint& redis) {
  const std::string list = envString(env, "PROXYOS_REDIS_SENTINEL", "");
  if (list.empty()) return;
  for (const auto& item : splitList(list)) {
    auto hp = parseHostPort(item);
    if (!hp) throw ConfigError("PROXYOS_REDIS_SENTINEL: \"" + item + "\": " + hp.error().message);
    if (item.front() == ':' || hp.value().port == 0)
      throw ConfigError("PROXYOS_REDIS_SENTINEL: \"" + item + "\" needs a host and a port (host:26379)");
    redis.sentinels.push_back(hp.value());
  }
  if (redis.sentinels.empty()) throw ConfigError("PROXYOS_REDIS_SENTINEL has no host:port in it");
  redis.sentinelMaster = envString(env, "PROXYOS_REDIS_MASTER", "proxyos");
  if (!validMasterName(redis.sentinelMaster))
    throw ConfigError("PROXYOS_REDIS_MASTER=\"" + redis.sentinelMaster +
                      "\" must be 1-64 characters of A-Z a-z 0-9 . _ -");
}

}  // namespace

std::vector<VarSpec> commonVarSpecs(const std::string& defaultListen) {
  return {
      {"PROXYOS_SECRET", "", "signing secret, at least 32 bytes (required)"},
      {"PROXYOS_SECRET_PREVIOUS", "", "comma-separated previous secrets that still verify"},
      {"PROXYOS_URL", "http://localhost:8080", "canonical dashboard URL"},
      {"PROXYOS_COOKIE_DOMAIN", "", "cookie Domain attribute (one login for every subdomain)"},
      {"PROXYOS_REDIS_URL", "redis://127.0.0.1:6379/0",
       "redis://[:password@]host:port/db; with PROXYOS_REDIS_SENTINEL only its password and db are used"},
      {"PROXYOS_REDIS_SENTINEL", "", "comma-separated Sentinels host:port that name the Redis primary"},
      {"PROXYOS_REDIS_MASTER", "proxyos", "the master name the Sentinels monitor"},
      {"PROXYOS_NATS_URL", "nats://127.0.0.1:4222", "comma-separated NATS servers"},
      {"PROXYOS_NATS_REPLICAS", "1", "replicas of every KV bucket"},
      {"PROXYOS_LISTEN", defaultListen, "host:port of this service's REST API"},
      {"PROXYOS_TRUSTED_PROXIES", "", "comma-separated CIDRs whose X-Forwarded-* are believed"},
      {"PROXYOS_DATA_DIR", "./.proxyos", "directory for local state"},
      {"PROXYOS_LOG_LEVEL", "info", "trace|debug|info|warn|error"},
      {"PROXYOS_LOG_FORMAT", "text", "json|text"},
      {"PROXYOS_AUTH_URL", "http://127.0.0.1:7001", "where services reach the auth service"},
      {"PROXYOS_REGISTRY_URL", "http://127.0.0.1:7002", "where services reach route-registry"},
      {"PROXYOS_SSO_URL", "http://127.0.0.1:7003", "where services reach sso-provider"},
  };
}

CommonConfig loadCommonConfig(const Env& env, const std::string& defaultListen) {
  CommonConfig c;
  c.secret = envRequired(env, "PROXYOS_SECRET");
  if (c.secret.size() < 32)
    throw ConfigError("PROXYOS_SECRET must be at least 32 bytes (got " + std::to_string(c.secret.size()) +
                      "); generate one with: openssl rand -hex 32");
  c.previousSecrets = splitList(envString(env, "PROXYOS_SECRET_PREVIOUS", ""));
  for (const auto& s : c.previousSecrets)
    if (s.size() < 32) throw ConfigError("PROXYOS_SECRET_PREVIOUS: every secret must be at least 32 bytes");

  c.publicUrl = envUrl(env, "PROXYOS_URL", "http://localhost:8080");
  if (c.publicUrl.scheme != "http" && c.publicUrl.scheme != "https")
    throw ConfigError("PROXYOS_URL must start with http:// or https://");
  c.cookieDomain = envString(env, "PROXYOS_COOKIE_DOMAIN", "");

  const std::string redisUrl = envString(env, "PROXYOS_REDIS_URL", "redis://127.0.0.1:6379/0");
  auto redis = parseRedisUrl(redisUrl);
  // Never echo the URL: it may carry a password.
  if (!redis) throw ConfigError("PROXYOS_REDIS_URL: " + redis.error().message);
  c.redis = redis.value();
  loadRedisSentinel(env, c.redis);

  c.natsServers = splitList(envString(env, "PROXYOS_NATS_URL", "nats://127.0.0.1:4222"));
  if (c.natsServers.empty()) throw ConfigError("PROXYOS_NATS_URL is empty");
  for (const auto& s : c.natsServers) {
    auto u = parseUrl(s);
    if (!u || (u.value().scheme != "nats" && u.value().scheme != "tls"))
      throw ConfigError("PROXYOS_NATS_URL: \"" + s + "\" is not a nats:// URL");
  }
  c.natsReplicas = envInt(env, "PROXYOS_NATS_REPLICAS", 1, 1, 5);
  c.listen = envHostPort(env, "PROXYOS_LISTEN", defaultListen);
  c.trustedProxies = splitList(envString(env, "PROXYOS_TRUSTED_PROXIES", ""));
  for (const auto& cidr : c.trustedProxies) checkCidr("PROXYOS_TRUSTED_PROXIES", cidr);
  c.dataDir = envString(env, "PROXYOS_DATA_DIR", "./.proxyos");
  c.logLevel = envString(env, "PROXYOS_LOG_LEVEL", "info");
  if (c.logLevel != "trace" && c.logLevel != "debug" && c.logLevel != "info" && c.logLevel != "warn" &&
      c.logLevel != "error")
    throw ConfigError("PROXYOS_LOG_LEVEL must be one of trace, debug, info, warn, error");
  c.logFormat = envString(env, "PROXYOS_LOG_FORMAT", "text");
  if (c.logFormat != "json" && c.logFormat != "text") throw ConfigError("PROXYOS_LOG_FORMAT must be json or text");
  auto serviceUrl = [&](const char* name, const char* fallback) {
    Url u = envUrl(env, name, fallback);
    if (u.scheme != "http" && u.scheme != "https") throw ConfigError(std::string(name) + " must start with http:// or https://");
    return u;
  };
  c.authUrl = serviceUrl("PROXYOS_AUTH_URL", "http://127.0.0.1:7001");
  c.registryUrl = serviceUrl("PROXYOS_REGISTRY_URL", "http://127.0.0.1:7002");
  c.ssoUrl = serviceUrl("PROXYOS_SSO_URL", "http://127.0.0.1:7003");
  return c;
}

}  // namespace proxyos
