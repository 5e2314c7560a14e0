#pragma once
// Reads another ProxyOS service's REST API with a service token
// (shared/session/service_token.h). Any failure to get an answer is
// Unavailable naming the other service, so callers refuse the write (503)
// rather than accept it unchecked.
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "shared/core/clock.h"
#include "shared/core/error.h"
#include "shared/session/signing_keys.h"

namespace proxyos::http {

struct ServiceReply {
  int status = 0;
  nlohmann::json body;
};

class ServiceClient {
 public:
  /// `caller` names this service in the token; `target` names the other in errors.
  ServiceClient(std::string caller, std::string target, std::string baseUrl, const session::SigningKeys& keys,
                const Clock& clock, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// GET `pathAndQuery`. 2xx and 4xx come back as replies; no answer, a 5xx
  /// or a body that is not JSON is Unavailable (code dependency_unavailable).
  Result<ServiceReply> get(const std::string& pathAndQuery) const;
  const std::string& target() const { return target_; }

 private:
  std::string caller_;
  std::string target_;
  std::string base_;
  const session::SigningKeys& keys_;
  const Clock& clock_;
  std::chrono::milliseconds timeout_;
};

}  // namespace proxyos::http
