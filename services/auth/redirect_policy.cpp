#include "redirect_policy.h"

#include "login_diagnosis.h"

namespace proxyos::auth {

RedirectPolicy::RedirectPolicy(Url publicUrl, std::string cookieDomain, HostCheck servesHost)
    : publicUrl_(std::move(publicUrl)), cookieDomain_(std::move(cookieDomain)), servesHost_(std::move(servesHost)) {}

std::optional<std::string> RedirectPolicy::check(const std::string& rd) const {
  if (rd.empty() || rd.size() > 4096) return std::nullopt;
  for (unsigned char c : rd)
    if (c <= 0x20 || c >= 0x7f || c == '\\') return std::nullopt;  // \\evil, CR/LF, spaces, non-ASCII tricks
  // Relative references ("/x", "//evil", "/\evil") are refused: only absolute URLs we can check.
  auto u = parseUrl(rd);
  if (!u) return std::nullopt;
  const Url& url = u.value();
  if (url.scheme != "http" && url.scheme != "https") return std::nullopt;
  if (!url.userinfo.empty()) return std::nullopt;  // https://proxyos.example.com@evil.com/
  if (url.host.find('%') != std::string::npos) return std::nullopt;
  if (rd.compare(0, url.scheme.size() + 3, url.scheme + "://") != 0) return std::nullopt;
  const bool allowed = url.host == publicUrl_.host || hostInDomain(url.host, cookieDomain_) ||
                       (servesHost_ && servesHost_(url.host));
  if (!allowed) return std::nullopt;
  return rd;
}

std::string urlEncode(const std::string& s) { return percentEncode(s); }

}  // namespace proxyos::auth
