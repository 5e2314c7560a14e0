#pragma once
// A blocking HTTP/1.1 client for integration tests (Boost.Beast): one
// connection per request, real sockets, no mocks.
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace proxyos::testing {

struct HttpResult {
  int status = 0;                              // 0: no response (error says why)
  std::map<std::string, std::string> headers;  // names lower-cased (last value wins)
  std::vector<std::pair<std::string, std::string>> headerList;  // every header line, in order
  std::string body;
  std::string error;

  std::string header(const std::string& name) const;
  /// How many times a header appears (e.g. exactly one Set-Cookie).
  int headerCount(const std::string& name) const;
  nlohmann::json json() const;  // parses body; throws on invalid JSON
  /// error.code of a contract error body, "" otherwise.
  std::string errorCode() const;
  std::string errorField() const;
};

HttpResult httpRequest(const std::string& method, const std::string& url, const std::string& body = "",
                       const std::map<std::string, std::string>& headers = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(15));

}  // namespace proxyos::testing
