#include "shared/http/router.h"

#include <spdlog/spdlog.h>

namespace proxyos::http {

std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : path) {
    if (c == '/') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

void Router::add(const std::string& method, const std::string& pattern, Handler handler) {
  Entry e{method, pattern, splitPath(pattern), 0, std::move(handler)};
  for (const auto& s : e.segments)
    if (s.front() != '{') ++e.literalCount;
  entries_.push_back(std::move(e));
}

Router::Match Router::match(Request& req) const {
  const auto segments = splitPath(req.path);
  Match result;
  const Entry* best = nullptr;
  for (const auto& e : entries_) {
    if (e.segments.size() != segments.size()) continue;
    bool ok = true;
    for (size_t i = 0; i < segments.size() && ok; ++i)
      ok = e.segments[i].front() == '{' || e.segments[i] == segments[i];
    if (!ok) continue;
    if (e.method != req.method && !(req.method == "HEAD" && e.method == "GET")) {
      result.methodNotAllowed = true;
      if (result.allow.find(e.method) == std::string::npos)
        result.allow += (result.allow.empty() ? "" : ", ") + e.method;
      continue;
    }
    if (best == nullptr || e.literalCount > best->literalCount) best = &e;
  }
  if (best == nullptr) return result;
  // A literal match elsewhere for another method must not make this a 405.
  result.methodNotAllowed = false;
  result.handler = &best->handler;
  result.pattern = best->pattern;
  for (size_t i = 0; i < segments.size(); ++i)
    if (best->segments[i].front() == '{')
      req.params[best->segments[i].substr(1, best->segments[i].size() - 2)] = segments[i];
  return result;
}

Response Router::dispatch(Request& req, std::string* pattern) const {
  auto m = match(req);
  if (pattern != nullptr) *pattern = m.handler != nullptr ? m.pattern : "unmatched";
  if (m.handler == nullptr) {
    if (m.methodNotAllowed)
      return Response::error(Error::make(ErrorKind::BadRequest, "method_not_allowed", req.method + " is not allowed here"))
          .header("Allow", m.allow);
    return Response::error(Error::make(ErrorKind::NotFound, "not_found", "no such endpoint: " + req.path));
  }
  try {
    return (*m.handler)(req);
  } catch (const ErrorException& e) {
    return Response::error(e.error());
  } catch (const std::exception& e) {
    spdlog::error("request {} {} {} failed: {}", req.requestId, req.method, m.pattern, e.what());
    return Response::error(
        Error::make(ErrorKind::Internal, "internal", "internal error (request id " + req.requestId + ")"));
  }
}

}  // namespace proxyos::http
