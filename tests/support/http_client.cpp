#include "tests/support/http_client.h"

#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "shared/core/url.h"

namespace proxyos::testing {

namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = boost::asio::ip::tcp;

std::string HttpResult::header(const std::string& name) const {
  std::string key = name;
  std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
  auto it = headers.find(key);
  return it == headers.end() ? "" : it->second;
}

int HttpResult::headerCount(const std::string& name) const {
  std::string key = name;
  std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
  return static_cast<int>(std::count_if(headerList.begin(), headerList.end(), [&](const auto& h) { return h.first == key; }));
}

nlohmann::json HttpResult::json() const { return nlohmann::json::parse(body); }

std::string HttpResult::errorCode() const {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].contains("code")) return j["error"]["code"];
  return "";
}

std::string HttpResult::errorField() const {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].contains("field")) return j["error"]["field"];
  return "";
}

HttpResult httpRequest(const std::string& method, const std::string& url, const std::string& body,
                       const std::map<std::string, std::string>& headers, std::chrono::milliseconds timeout) {
  HttpResult result;
  auto parsed = parseUrl(url);
  if (!parsed) {
    result.error = parsed.error().message;
    return result;
  }
  const Url& u = parsed.value();
  try {
    boost::asio::io_context ioc;
    tcp::resolver resolver(ioc);
    tcp::socket socket(ioc);
    boost::asio::connect(socket, resolver.resolve(u.host, std::to_string(u.port)));
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);

    const std::string target = (u.path.empty() ? "/" : u.path) + (u.query.empty() ? "" : "?" + u.query);
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, u.authority());
    req.set(bhttp::field::connection, "close");
    bool hasContentType = false;
    for (const auto& [k, v] : headers) {
      req.set(k, v);
      std::string lk = k;
      std::transform(lk.begin(), lk.end(), lk.begin(), [](unsigned char c) { return std::tolower(c); });
      hasContentType = hasContentType || lk == "content-type";
    }
    if (!body.empty() && !hasContentType) req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") req.prepare_payload();
    bhttp::write(socket, req);

    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(256 * 1024 * 1024);
    if (method == "HEAD") parser.skip(true);
    bhttp::read(socket, buffer, parser);
    const auto& res = parser.get();
    result.status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
      std::string name(f.name_string());
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      result.headers[name] = std::string(f.value());
      result.headerList.emplace_back(name, std::string(f.value()));
    }
    result.body = res.body();
    beast::error_code ec;
    socket.shutdown(tcp::socket::shutdown_both, ec);
  } catch (const std::exception& e) {
    result.status = 0;
    result.error = e.what();
  }
  return result;
}

}  // namespace proxyos::testing
