#pragma once
// Responses the edge writes itself: error pages (400, 404, 413, 431, 502,
// 503, 504) and the system route's in-memory answers.
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client_io.h"

namespace proxyos::edge {

/// A complete, small response held in memory.
struct LocalResponse {
  unsigned status = 200;
  std::string_view contentType = "text/html; charset=utf-8";
  std::string_view body;  // must stay valid until the write completes
  /// Added as given (a name may repeat); must not repeat Content-Type,
  /// Content-Length or Connection, which the writer sets.
  const std::vector<std::pair<std::string, std::string>>* headers = nullptr;
  unsigned version = 11;  // the client's (HTTP/1.0 clients get "Connection: keep-alive" spelled out)
  bool head = false;      // answering HEAD: Content-Length of `body`, no body bytes
  bool keepAlive = false;
  std::string_view requestId;  // sent as X-Request-Id when not empty
};

/// The error page for `status` as a LocalResponse.
LocalResponse errorResponse(unsigned status, unsigned version, bool head, bool keepAlive, std::string_view requestId);

/// Writes `response` to the client, bounded by `idleTimeout` (a client that
/// does not read its response is cut off). Returns the write's error.
boost::asio::awaitable<boost::system::error_code> writeLocalResponse(ClientIo& io, const LocalResponse& response,
                                                                     std::chrono::milliseconds idleTimeout);

}  // namespace proxyos::edge
