#include "shared/model/route.h"

#include "shared/model/json_reader.h"
#include "shared/model/route_validation.h"

namespace proxyos::model {

std::string tlsModeName(TlsMode mode) {
  switch (mode) {
    case TlsMode::Off: return "off";
    case TlsMode::Internal: return "internal";
    case TlsMode::Auto: return "auto";
  }
  return "off";
}

std::optional<TlsMode> parseTlsMode(std::string_view name) {
  if (name == "off") return TlsMode::Off;
  if (name == "internal") return TlsMode::Internal;
  if (name == "auto") return TlsMode::Auto;
  return std::nullopt;
}

namespace {

void readHeaderOps(JsonObjectReader& in, std::string_view key, HeaderOps& out, ErrorCollector& errors) {
  const nlohmann::json* object = in.readObject(key);
  if (object == nullptr) return;
  JsonObjectReader ops(*object, in.pathOf(key), errors);
  ops.readStringMap("set", out.set);
  ops.readStringArray("remove", out.remove);
  ops.finish();
}

nlohmann::ordered_json headerOpsJson(const HeaderOps& ops) {
  nlohmann::ordered_json j;
  j["set"] = nlohmann::ordered_json::object();
  for (const auto& [name, value] : ops.set) j["set"][name] = value;
  j["remove"] = ops.remove;
  return j;
}

}  // namespace

Result<Route> decodeRoute(const nlohmann::json& j, const RouteValidationContext& ctx, const std::string& pathPrefix) {
  ErrorCollector errors;
  if (!j.is_object()) {
    errors.add(pathPrefix, "invalid_type", "expected a JSON object");
    return errors.toError();
  }

  Route r;
  JsonObjectReader in(j, pathPrefix, errors);
  in.readString("id", r.id);
  in.readString("name", r.name);
  in.readStringArray("domains", r.domains);
  in.readString("pathPrefix", r.pathPrefix);
  in.readStringArray("upstreams", r.upstreams);
  if (std::string mode; in.readString("tlsMode", mode)) {
    if (auto parsed = parseTlsMode(mode))
      r.tlsMode = *parsed;
    else
      errors.add(in.pathOf("tlsMode"), "invalid_enum", "must be one of \"off\", \"internal\", \"auto\"");
  }
  in.readBool("forceHttps", r.forceHttps);
  in.readBool("ssoEnabled", r.ssoEnabled);
  in.readString("ssoProviderId", r.ssoProviderId);
  in.readStringArray("accessosGroups", r.accessosGroups);
  readHeaderOps(in, "requestHeaders", r.requestHeaders, errors);
  readHeaderOps(in, "responseHeaders", r.responseHeaders, errors);
  in.readBool("enabled", r.enabled);
  in.readUint64("revision", r.revision);
  in.readString("createdAt", r.createdAt);
  in.readString("updatedAt", r.updatedAt);
  in.finish();

  normalizeAndValidateRoute(r, ctx, pathPrefix, errors);
  if (!errors.empty()) return errors.toError();
  return r;
}

Result<Route> parseRoute(std::string_view body, const RouteValidationContext& ctx) {
  auto document = parseJsonObject(body);
  if (!document) return document.error();
  return decodeRoute(document.value(), ctx);
}

nlohmann::ordered_json toJson(const Route& r) {
  nlohmann::ordered_json j;
  j["id"] = r.id;
  j["name"] = r.name;
  j["domains"] = r.domains;
  j["pathPrefix"] = r.pathPrefix;
  j["upstreams"] = r.upstreams;
  j["tlsMode"] = tlsModeName(r.tlsMode);
  j["forceHttps"] = r.forceHttps;
  j["ssoEnabled"] = r.ssoEnabled;
  j["ssoProviderId"] = r.ssoProviderId;
  j["accessosGroups"] = r.accessosGroups;
  j["requestHeaders"] = headerOpsJson(r.requestHeaders);
  j["responseHeaders"] = headerOpsJson(r.responseHeaders);
  j["enabled"] = r.enabled;
  j["revision"] = r.revision;
  j["createdAt"] = r.createdAt;
  j["updatedAt"] = r.updatedAt;
  return j;
}

}  // namespace proxyos::model
