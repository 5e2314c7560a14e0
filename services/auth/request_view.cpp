#include "request_view.h"

#include <algorithm>

namespace proxyos::auth {

namespace {
std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}
// First element of a comma-separated forwarded list (the client's side).
std::string firstOf(const std::string& v) {
  auto s = v.substr(0, v.find(','));
  s.erase(0, s.find_first_not_of(' '));
  s.erase(s.find_last_not_of(' ') + 1);
  return s;
}
}  // namespace

std::string hostWithoutPort(const std::string& hostHeader) {
  std::string h = lower(hostHeader);
  if (!h.empty() && h.front() == '[') return h.substr(1, h.find(']') - 1);
  return h.substr(0, h.find(':'));
}

RequestView viewOf(const http::Request& req, const std::vector<Cidr>& trustedProxies) {
  RequestView v{"http", hostWithoutPort(req.header("host")), req.remoteAddress};
  if (anyContains(trustedProxies, req.remoteAddress)) {
    if (auto proto = lower(firstOf(req.header("x-forwarded-proto"))); proto == "http" || proto == "https") v.scheme = proto;
    if (auto host = firstOf(req.header("x-forwarded-host")); !host.empty()) v.host = hostWithoutPort(host);
    if (auto xff = req.header("x-forwarded-for"); !xff.empty()) v.clientIp = firstOf(xff);
  }
  return v;
}

}  // namespace proxyos::auth
