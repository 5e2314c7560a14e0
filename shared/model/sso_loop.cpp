#include "shared/model/sso_loop.h"

#include "shared/core/url.h"
#include "shared/model/hostname.h"

namespace proxyos::model {

bool domainServesHost(const std::string& domain, const std::string& host) {
  const std::string d = toLowerAscii(domain), h = toLowerAscii(host);
  if (d.rfind("*.", 0) != 0) return d == h;
  const std::string suffix = d.substr(1);  // ".example.com"
  if (h.size() <= suffix.size() || h.compare(h.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
  return h.find('.') == h.size() - suffix.size();  // exactly one label before the suffix
}

std::optional<SsoLoop> findSsoLoop(const std::vector<std::string>& routeDomains, const std::string& forwardAuthUrl,
                                   const std::string& loginUrl) {
  const std::pair<const char*, const std::string*> urls[] = {{"forwardAuthUrl", &forwardAuthUrl}, {"loginUrl", &loginUrl}};
  for (const auto& [field, url] : urls) {
    if (url->empty()) continue;
    auto parsed = parseUrl(*url);
    if (!parsed) continue;
    for (size_t i = 0; i < routeDomains.size(); ++i) {
      if (!domainServesHost(routeDomains[i], parsed.value().host)) continue;
      SsoLoop loop{i, parsed.value().host, field, *url, ""};
      loop.message = "SSO on " + routeDomains[i] + " would protect " + parsed.value().host +
                     ", the host that serves this route's own SSO provider (" + field + " " + *url +
                     "): the login itself would require a login, a redirect loop. Turn SSO off for that host "
                     "or serve the provider from another host.";
      return loop;
    }
  }
  return std::nullopt;
}

}  // namespace proxyos::model
