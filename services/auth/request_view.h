#pragma once
// What the auth service sees of a request: scheme and host as the browser
// used them. X-Forwarded-Proto/-Host are believed only from PROXYOS_TRUSTED_PROXIES.
#include <string>
#include <vector>

#include "shared/core/cidr.h"
#include "shared/http/message.h"

namespace proxyos::auth {

struct RequestView {
  std::string scheme;  // http | https
  std::string host;    // lower-cased, without port
  std::string clientIp;
};

RequestView viewOf(const http::Request& req, const std::vector<Cidr>& trustedProxies);
/// "host:port" or "[v6]:port" -> host, lower-cased.
std::string hostWithoutPort(const std::string& hostHeader);

}  // namespace proxyos::auth
