#include "shared/http/message.h"

#include <algorithm>
#include <charconv>

namespace proxyos::http {

namespace {
const std::string kEmpty;
std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}
}  // namespace

std::string Request::header(const std::string& name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

std::string Request::queryParam(const std::string& name) const {
  auto it = query.find(name);
  return it == query.end() ? std::string() : it->second;
}

const std::string& Request::param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? kEmpty : it->second;
}

Response Response::json(int status, const nlohmann::ordered_json& body) {
  Response r;
  r.status = status;
  r.body = body.dump();
  return r;
}

Response Response::noContent() {
  Response r;
  r.status = 204;
  r.contentType.clear();
  return r;
}

nlohmann::ordered_json errorBody(const Error& e) {
  nlohmann::ordered_json inner;
  inner["code"] = e.code;
  inner["message"] = e.message;
  if (!e.field.empty()) inner["field"] = e.field;
  if (e.details.size() > 1) {
    auto details = nlohmann::ordered_json::array();
    for (const auto& d : e.details) {
      nlohmann::ordered_json item;
      item["code"] = d.code;
      item["message"] = d.message;
      if (!d.field.empty()) item["field"] = d.field;
      details.push_back(std::move(item));
    }
    inner["details"] = std::move(details);
  }
  return {{"error", std::move(inner)}};
}

Response Response::error(const Error& e) { return json(httpStatus(e.kind), errorBody(e)); }

Response& Response::header(std::string name, std::string value) {
  headers.emplace_back(std::move(name), std::move(value));
  return *this;
}

std::optional<uint64_t> ifMatchRevision(const Request& req) {
  std::string v = req.header("if-match");
  if (v.empty() || v == "*") return std::nullopt;
  if (v.rfind("W/", 0) == 0) v = v.substr(2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  uint64_t rev = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), rev);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size())
    throw ErrorException(Error{ErrorKind::BadRequest, "invalid_if_match",
                               "If-Match must be an ETag this API returned, e.g. \"17\"", "If-Match", {}});
  return rev;
}

std::string etag(uint64_t revision) { return "\"" + std::to_string(revision) + "\""; }

}  // namespace proxyos::http
