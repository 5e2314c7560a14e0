#pragma once
// The request and response a handler sees: plain values, independent of
// cpprestsdk, so handlers are unit-tested without a network.
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "shared/core/error.h"

namespace proxyos::http {

struct Request {
  std::string method;                          // GET, POST, ...
  std::string path;                            // decoded path, no query
  std::map<std::string, std::string> query;    // decoded values
  std::map<std::string, std::string> headers;  // names lower-cased
  std::map<std::string, std::string> params;   // from {name} segments of the route pattern
  std::string body;
  std::string requestId;
  std::string remoteAddress;

  /// Header value by case-insensitive name, "" when absent.
  std::string header(const std::string& name) const;
  std::string queryParam(const std::string& name) const;
  const std::string& param(const std::string& name) const;
};

struct Response {
  int status = 200;
  std::string body;
  std::string contentType = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;

  static Response json(int status, const nlohmann::ordered_json& body);
  static Response noContent();
  static Response error(const Error& e);
  Response& header(std::string name, std::string value);
};

/// The contract's error body: {"error":{"code","message","field"?,"details"?}}.
nlohmann::ordered_json errorBody(const Error& e);

/// Parses an If-Match header ("17", W/"17", *) into a revision; nullopt when
/// absent or "*". A malformed value throws ErrorException (400).
std::optional<uint64_t> ifMatchRevision(const Request& req);
/// ETag value for a revision: "\"17\"".
std::string etag(uint64_t revision);

}  // namespace proxyos::http
