#include "shared/http/remote_token_verifier.h"

#include <cpprest/http_client.h>

#include <nlohmann/json.hpp>

#include "shared/crypto/sha256.h"

namespace proxyos::http {

RemoteTokenVerifier::RemoteTokenVerifier(std::string authBaseUrl, const Clock& clock, std::chrono::seconds cacheFor)
    : base_(std::move(authBaseUrl)), clock_(clock), cacheFor_(cacheFor) {}

Result<std::optional<session::Principal>> RemoteTokenVerifier::verify(const std::string& bearerToken) {
  if (bearerToken.rfind(session::kTokenPrefix, 0) != 0) return std::optional<session::Principal>{};
  const std::string key = crypto::sha256Hex(bearerToken);
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end() && it->second.second > clock_.monotonic()) return std::optional{it->second.first};
    if (it != cache_.end()) cache_.erase(it);
  }
  try {
    web::http::client::http_client_config cfg;
    cfg.set_timeout(std::chrono::seconds(5));
    web::http::client::http_client client(base_, cfg);
    web::http::http_request req(web::http::methods::GET);
    req.set_request_uri("/api/auth/session");
    req.headers().add("Authorization", "Bearer " + bearerToken);
    auto resp = client.request(req).get();
    if (resp.status_code() == 401 || resp.status_code() == 403) return std::optional<session::Principal>{};
    if (resp.status_code() != 200)
      return Error::make(ErrorKind::Unavailable, "auth_unavailable",
                         "auth service answered " + std::to_string(resp.status_code()) + " to a token check");
    auto j = nlohmann::json::parse(resp.extract_utf8string().get());
    auto role = session::parseRole(j.at("role").get<std::string>());
    if (!role) return Error::make(ErrorKind::Unavailable, "auth_unavailable", "auth service sent an unknown role");
    session::Principal p{j.at("userId").get<std::string>(), j.at("username").get<std::string>(), *role,
                         session::Principal::Via::Token, "", j.value("tokenId", "")};
    std::lock_guard lock(mu_);
    if (cache_.size() > 10000) cache_.clear();
    cache_[key] = {p, clock_.monotonic() + cacheFor_};
    return std::optional{p};
  } catch (const std::exception& e) {
    return Error::make(ErrorKind::Unavailable, "auth_unavailable", std::string("auth service unreachable: ") + e.what());
  }
}

}  // namespace proxyos::http
