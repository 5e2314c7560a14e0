#pragma once
// API tokens live in the auth service's bucket, which no other service reads:
// they verify a bearer token by asking auth (GET /api/auth/session with the
// same Authorization header). Positive answers are cached briefly so a busy
// admin client does not cost one call per request.
#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "shared/core/clock.h"
#include "shared/session/principal.h"

namespace proxyos::http {

class RemoteTokenVerifier final : public session::TokenVerifier {
 public:
  RemoteTokenVerifier(std::string authBaseUrl, const Clock& clock,
                      std::chrono::seconds cacheFor = std::chrono::seconds(5));
  Result<std::optional<session::Principal>> verify(const std::string& bearerToken) override;

 private:
  std::string base_;
  const Clock& clock_;
  std::chrono::seconds cacheFor_;
  std::mutex mu_;
  std::map<std::string, std::pair<session::Principal, Clock::MonoTime>> cache_;  // sha256(token) -> principal
};

}  // namespace proxyos::http
