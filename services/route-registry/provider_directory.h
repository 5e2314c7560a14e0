#pragma once
// What the registry needs to know about SSO providers, which the sso-provider
// service owns: does one exist, and which hosts serve its URLs.
#include <optional>
#include <string>

#include "shared/core/error.h"
#include "shared/http/service_client.h"

namespace proxyos::registry {

struct ProviderRef {
  std::string id;
  std::string forwardAuthUrl;
  std::string loginUrl;
};

class ProviderDirectory {
 public:
  virtual ~ProviderDirectory() = default;
  /// nullopt when no such provider; Unavailable when the owner cannot answer.
  virtual Result<std::optional<ProviderRef>> find(const std::string& id) = 0;
};

/// Asks sso-provider (GET /api/sso-providers/{id}) with a service token.
class RemoteProviderDirectory final : public ProviderDirectory {
 public:
  explicit RemoteProviderDirectory(const http::ServiceClient& client) : client_(client) {}
  Result<std::optional<ProviderRef>> find(const std::string& id) override;

 private:
  const http::ServiceClient& client_;
};

}  // namespace proxyos::registry
