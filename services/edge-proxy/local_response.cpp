#include "local_response.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/write.hpp>

#include "error_pages.h"
#include "string_view_compat.h"

namespace proxyos::edge {

namespace asio = boost::asio;
namespace http = boost::beast::http;

LocalResponse errorResponse(unsigned status, unsigned version, bool head, bool keepAlive) {
  LocalResponse r;
  r.status = status;
  r.body = errorPage(status);
  r.version = version;
  r.head = head;
  r.keepAlive = keepAlive;
  return r;
}

asio::awaitable<boost::system::error_code> writeLocalResponse(ClientIo& io, const LocalResponse& response,
                                                              std::chrono::milliseconds idleTimeout) {
  http::response<http::span_body<const char>> res;
  res.result(response.status);
  res.version(11);
  res.set(http::field::content_type, toBeast(response.contentType));
  if (response.headers)
    for (const auto& [name, value] : *response.headers) res.set(name, value);
  if (response.status >= 400) res.set(http::field::cache_control, "no-store");
  res.content_length(response.body.size());
  if (!response.head) res.body() = {response.body.data(), response.body.size()};
  if (!response.keepAlive)
    res.set(http::field::connection, "close");
  else if (response.version < 11)
    res.set(http::field::connection, "keep-alive");

  boost::system::error_code ec;
  io.upstreamDog.arm(idleTimeout, {&io.socket, nullptr, nullptr});
  http::response_serializer<http::span_body<const char>> sr(res);
  co_await http::async_write(io.socket, sr, asio::redirect_error(asio::use_awaitable, ec));
  io.upstreamDog.disarm();
  co_return ec;
}

}  // namespace proxyos::edge
