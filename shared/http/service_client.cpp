#include "shared/http/service_client.h"

#include <cpprest/http_client.h>

#include "shared/session/service_token.h"

namespace proxyos::http {

ServiceClient::ServiceClient(std::string caller, std::string target, std::string baseUrl,
                             const session::SigningKeys& keys, const Clock& clock, std::chrono::milliseconds timeout)
    : caller_(std::move(caller)), target_(std::move(target)), base_(std::move(baseUrl)), keys_(keys), clock_(clock),
      timeout_(timeout) {}

Result<ServiceReply> ServiceClient::get(const std::string& pathAndQuery) const {
  auto unavailable = [&](const std::string& why) {
    return Error::make(ErrorKind::Unavailable, "dependency_unavailable",
                       target_ + " is unavailable (" + why + "); nothing was changed");
  };
  try {
    web::http::client::http_client_config cfg;
    cfg.set_timeout(timeout_);
    web::http::client::http_client client(base_, cfg);
    web::http::http_request req(web::http::methods::GET);
    req.set_request_uri(pathAndQuery);
    req.headers().add("Authorization", "Bearer " + session::issueServiceToken(keys_, caller_, clock_.now()));
    auto resp = client.request(req).get();
    const int status = resp.status_code();
    const std::string text = resp.extract_utf8string(true).get();
    if (status >= 500) return unavailable("it answered " + std::to_string(status));
    auto body = nlohmann::json::parse(text, nullptr, false);
    if (body.is_discarded()) return unavailable("it answered " + std::to_string(status) + " without JSON");
    return ServiceReply{status, std::move(body)};
  } catch (const std::exception& e) {
    return unavailable(e.what());
  }
}

}  // namespace proxyos::http
