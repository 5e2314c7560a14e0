#pragma once
// Where a `rd=` parameter may send the browser after login: only absolute
// http(s) URLs on PROXYOS_URL's host, under PROXYOS_COOKIE_DOMAIN, or on a host
// a route serves (asked through `servesHost`; no answer means no). Anything
// else (foreign hosts, //evil, \\evil, encoded variants, userinfo tricks,
// control characters) is refused; callers then fall back to the dashboard.
#include <functional>
#include <optional>
#include <string>

#include "shared/core/url.h"

namespace proxyos::auth {

class RedirectPolicy {
 public:
  using HostCheck = std::function<bool(const std::string& host)>;
  RedirectPolicy(Url publicUrl, std::string cookieDomain, HostCheck servesHost = {});
  /// The URL, normalized, when it is a safe redirect target; nullopt otherwise.
  std::optional<std::string> check(const std::string& rd) const;

 private:
  Url publicUrl_;
  std::string cookieDomain_;
  HostCheck servesHost_;
};

/// application/x-www-form-urlencoded style percent-encoding of a query value.
std::string urlEncode(const std::string& s);

}  // namespace proxyos::auth
