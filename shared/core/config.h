#pragma once
// Typed configuration from the environment (12-factor). A bad or missing value
// throws ConfigError whose message is one line naming the variable; runMain()
// prints it and exits with code 2.
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "shared/core/url.h"

namespace proxyos {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Where variables come from: the process environment, or a map in tests.
class Env {
 public:
  virtual ~Env() = default;
  virtual std::optional<std::string> get(const std::string& name) const = 0;
};

class ProcessEnv final : public Env {
 public:
  std::optional<std::string> get(const std::string& name) const override;
};

class MapEnv final : public Env {
 public:
  MapEnv() = default;
  explicit MapEnv(std::map<std::string, std::string> vars) : vars_(std::move(vars)) {}
  std::optional<std::string> get(const std::string& name) const override;
  void set(const std::string& name, std::string value) { vars_[name] = std::move(value); }

 private:
  std::map<std::string, std::string> vars_;
};

/// One documented variable, for --help.
struct VarSpec {
  std::string name;
  std::string defaultValue;  // "" = none
  std::string help;
};

/// The variables every control-plane service reads (ARCHITECTURE.md §5).
struct CommonConfig {
  std::string secret;                       // PROXYOS_SECRET, >= 32 bytes
  std::vector<std::string> previousSecrets; // PROXYOS_SECRET_PREVIOUS
  Url publicUrl;                            // PROXYOS_URL
  std::string cookieDomain;                 // PROXYOS_COOKIE_DOMAIN
  RedisEndpoint redis;                      // PROXYOS_REDIS_URL, PROXYOS_REDIS_SENTINEL, PROXYOS_REDIS_MASTER
  std::vector<std::string> natsServers;     // PROXYOS_NATS_URL, split on ','
  int natsReplicas = 1;                     // PROXYOS_NATS_REPLICAS
  HostPort listen;                          // PROXYOS_LISTEN
  std::vector<std::string> trustedProxies;  // PROXYOS_TRUSTED_PROXIES (CIDRs)
  std::string dataDir;                      // PROXYOS_DATA_DIR
  std::string logLevel;                     // PROXYOS_LOG_LEVEL
  std::string logFormat;                    // PROXYOS_LOG_FORMAT: json | text
  Url authUrl;                              // PROXYOS_AUTH_URL: where services reach auth
  Url registryUrl;                          // PROXYOS_REGISTRY_URL
  Url ssoUrl;                               // PROXYOS_SSO_URL
};

/// The common variables with their defaults; `defaultListen` differs per service.
std::vector<VarSpec> commonVarSpecs(const std::string& defaultListen);

/// Reads and validates the common variables. Throws ConfigError.
CommonConfig loadCommonConfig(const Env& env, const std::string& defaultListen);

// Typed readers, each throwing ConfigError naming the variable.
std::string envString(const Env& env, const std::string& name, const std::string& fallback);
std::string envRequired(const Env& env, const std::string& name);
int envInt(const Env& env, const std::string& name, int fallback, int min, int max);
HostPort envHostPort(const Env& env, const std::string& name, const std::string& fallback);
Url envUrl(const Env& env, const std::string& name, const std::string& fallback);
std::vector<std::string> splitList(const std::string& text, char sep = ',');

}  // namespace proxyos
