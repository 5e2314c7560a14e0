#pragma once
// Internal to shared/tls: the blocking HTTP(S) exchange the ACME client makes,
// one connection per request (Boost.Beast). Peer verification is always on:
// the server's certificate must chain to `caRootFile` (or, when empty, the
// system store) and match the URL's host (DNS name or IP literal).
#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shared/core/error.h"

namespace proxyos::tls::acme {

struct HttpRequest {
  std::string method = "GET";
  std::string url;  // http:// or https://
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct HttpAnswer {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased; the last value wins
  std::string body;
  /// The header's value, "" when absent. `name` in lower case.
  std::string header(const std::string& name) const;
};

struct HttpOptions {
  std::string caRootFile;                    // PEM; empty: the system's default paths
  std::chrono::milliseconds timeout{15000};  // the whole exchange: connect, TLS, write, read
  std::size_t bodyLimit = 4 * 1024 * 1024;
};

/// Any failure to get an answer (bad URL, DNS, connect, TLS verification,
/// timeout, a malformed response) is Error code "acme_unreachable", kind
/// Unavailable. Any HTTP status is an answer, not an error.
Result<HttpAnswer> httpExchange(const HttpRequest& request, const HttpOptions& options);

}  // namespace proxyos::tls::acme
