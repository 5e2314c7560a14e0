#include "local_response.h"

#include <boost/beast/http/message.hpp>
#include <string>

#include "error_pages.h"
#include "http_io.h"
#include "request_id.h"
#include "string_view_compat.h"

namespace proxyos::edge {

namespace asio = boost::asio;
namespace http = boost::beast::http;

LocalResponse errorResponse(unsigned status, unsigned version, bool head, bool keepAlive, std::string_view requestId) {
  LocalResponse r;
  r.status = status;
  r.body = errorPage(status);
  r.version = version;
  r.head = head;
  r.keepAlive = keepAlive;
  r.requestId = requestId;
  return r;
}

asio::awaitable<boost::system::error_code> writeLocalResponse(ClientIo& io, const LocalResponse& response,
                                                              std::chrono::milliseconds idleTimeout) {
  http::response_header<> res;
  res.result(response.status);
  res.version(11);
  if (!response.contentType.empty()) res.set(http::field::content_type, toBeast(response.contentType));
  if (response.headers)
    for (const auto& [name, value] : *response.headers) res.insert(name, value);  // several Set-Cookie lines stay several
  if (response.status >= 400) res.set(http::field::cache_control, "no-store");
  if (!response.requestId.empty()) res.set(toBeast(kRequestIdHeader), toBeast(response.requestId));
  // 204 and 304 have no body and must not announce one (RFC 9110 §8.6).
  const bool bodyless = response.status == 204 || response.status == 304;
  if (!bodyless) res.set(http::field::content_length, std::to_string(response.body.size()));
  if (!response.keepAlive)
    res.set(http::field::connection, "close");
  else if (response.version < 11)
    res.set(http::field::connection, "keep-alive");

  // Error pages and small files leave with their head in one segment.
  constexpr std::size_t kCopyBelow = 2048;
  auto& out = io.toClientScratch;
  out.clear();
  appendHead(res, out);
  std::string_view body = response.head || bodyless ? std::string_view() : response.body;
  if (body.size() < kCopyBelow) {
    out += body;
    body = {};
  }
  boost::system::error_code ec;
  io.upstreamDog.arm(idleTimeout, {&io.socket, nullptr, nullptr});
  Gather<2> pieces{{asio::buffer(out), asio::buffer(body.data(), body.size())}};
  if (!writeNowAll(io.stream, pieces, ec)) co_await writeRest(io.stream, pieces, ec);
  io.upstreamDog.disarm();
  out.clear();
  co_return ec;
}

}  // namespace proxyos::edge
