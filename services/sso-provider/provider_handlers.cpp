#include "provider_handlers.h"

#include <spdlog/spdlog.h>

#include "shared/model/json_reader.h"

namespace proxyos::sso {

namespace {

http::Response providerResponse(int status, const model::SsoProvider& p) {
  return http::Response::json(status, model::toJson(p)).header("ETag", http::etag(p.revision));
}

http::Response probeResponse(ForwardAuthClient& probe, const model::SsoProvider& provider,
                             const ProbeCredentials& credentials) {
  const auto report = probeProvider(probe, provider, credentials);
  // Never the credentials (someone's session) nor the URL's query (it may carry a key).
  spdlog::info("provider test of {} ({}): verdict {}, status {}, {} ms{}{}",
               provider.forwardAuthUrl.substr(0, provider.forwardAuthUrl.find('?')),
               provider.id.empty() ? "unsaved" : provider.id, verdictName(report.verdict), report.facts.status,
               report.facts.latencyMs, report.facts.error.empty() ? "" : ", ", report.facts.error);
  return http::Response::json(200, toJson(report));
}

}  // namespace

http::Router makeProviderRouter(ProviderService& svc, ForwardAuthClient& probe, const std::vector<Preset>& presets,
                                const http::ApiGuard& guard) {
  http::Router r;
  r.add("GET", "/api/sso-providers", [&svc, &guard](const http::Request& req) {
    guard.require(req, http::Access::Read);
    auto items = nlohmann::ordered_json::array();
    for (const auto& p : svc.list().orThrow()) items.push_back(model::toJson(p));
    return http::Response::json(200, {{"providers", items}});
  });
  r.add("POST", "/api/sso-providers", [&svc, &guard](const http::Request& req) {
    guard.require(req, http::Access::Write);
    auto provider = model::parseSsoProvider(req.body).orThrow();
    auto created = svc.create(std::move(provider)).orThrow();
    return providerResponse(201, created).header("Location", "/api/sso-providers/" + created.id);
  });
  r.add("GET", "/api/sso-providers/presets", [doc = presetsJson(presets), &guard](const http::Request& req) {
    guard.require(req, http::Access::Read);
    return http::Response::json(200, doc);
  });
  r.add("POST", "/api/sso-providers/test", [&probe, &guard](const http::Request& req) {
    guard.require(req, http::Access::Write);
    auto body = parseProbeRequest(req.body, /*unsaved=*/true).orThrow();
    return probeResponse(probe, *body.provider, body.credentials);
  });
  r.add("GET", "/api/sso-providers/{id}", [&svc, &guard](const http::Request& req) {
    guard.require(req, http::Access::Read);
    return providerResponse(200, svc.get(req.param("id")).orThrow());
  });
  r.add("PUT", "/api/sso-providers/{id}", [&svc, &guard](const http::Request& req) {
    guard.require(req, http::Access::Write);
    auto ifMatch = http::ifMatchRevision(req);
    auto provider = model::parseSsoProvider(req.body).orThrow();
    return providerResponse(200, svc.replace(req.param("id"), std::move(provider), ifMatch).orThrow());
  });
  r.add("PATCH", "/api/sso-providers/{id}", [&svc, &guard](const http::Request& req) {
    guard.require(req, http::Access::Write);
    auto ifMatch = http::ifMatchRevision(req);
    auto patch = model::parseJsonObject(req.body).orThrow();
    return providerResponse(200, svc.patch(req.param("id"), patch, ifMatch).orThrow());
  });
  r.add("DELETE", "/api/sso-providers/{id}", [&svc, &guard](const http::Request& req) {
    guard.require(req, http::Access::Write);
    auto ifMatch = http::ifMatchRevision(req);
    svc.remove(req.param("id"), ifMatch).orThrow();
    return http::Response::noContent();
  });
  r.add("POST", "/api/sso-providers/{id}/test", [&svc, &probe, &guard](const http::Request& req) {
    guard.require(req, http::Access::Write);
    auto provider = svc.get(req.param("id")).orThrow();
    auto body = parseProbeRequest(req.body, /*unsaved=*/false).orThrow();
    return probeResponse(probe, provider, body.credentials);
  });
  return r;
}

}  // namespace proxyos::sso
