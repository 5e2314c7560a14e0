#include "provider_directory.h"

#include "shared/core/id.h"

namespace proxyos::registry {

Result<std::optional<ProviderRef>> RemoteProviderDirectory::find(const std::string& id) {
  if (!isValidId(id)) return std::optional<ProviderRef>{};
  auto reply = client_.get("/api/sso-providers/" + id);
  if (!reply) return reply.error();
  const auto& r = reply.value();
  if (r.status == 404) return std::optional<ProviderRef>{};
  if (r.status != 200)
    return Error::make(ErrorKind::Unavailable, "dependency_unavailable",
                       client_.target() + " answered " + std::to_string(r.status) + " to a provider lookup");
  return std::optional<ProviderRef>{
      ProviderRef{id, r.body.value("forwardAuthUrl", ""), r.body.value("loginUrl", "")}};
}

}  // namespace proxyos::registry
