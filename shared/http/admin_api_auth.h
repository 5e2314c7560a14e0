#pragma once
// What every control-plane service other than auth needs to guard its admin
// APIs: session cookies verified here (MAC, then Redis), API tokens through
// the auth service that owns them, and service tokens (other ProxyOS services)
// verified with the shared secret. Built once at wiring time.
#include "shared/core/clock.h"
#include "shared/core/config.h"
#include "shared/http/api_guard.h"
#include "shared/http/remote_token_verifier.h"
#include "shared/redis/redis_client.h"
#include "shared/session/redis_session_store.h"
#include "shared/session/service_token.h"
#include "shared/session/session_verifier.h"

namespace proxyos::http {

class AdminApiAuth {
 public:
  AdminApiAuth(const CommonConfig& config, const Clock& clock);
  AdminApiAuth(const AdminApiAuth&) = delete;
  AdminApiAuth& operator=(const AdminApiAuth&) = delete;

  const ApiGuard& guard() const { return guard_; }
  const session::SigningKeys& keys() const { return keys_; }
  redis::Client& redis() { return redis_; }

 private:
  redis::Client redis_;
  session::RedisSessionStore sessions_;
  session::SigningKeys keys_;
  session::SessionVerifier verifier_;
  RemoteTokenVerifier userTokens_;
  session::ServiceAwareTokenVerifier tokens_;
  ApiGuard guard_;
};

}  // namespace proxyos::http
