#pragma once
// A test's HTTP-01 responder: an HTTP/1.1 server on 127.0.0.1 (port 0) that
// answers GET /.well-known/acme-challenge/<token> from a callback — 200 with
// the key authorization, 404 for an unknown token, 503 when the callback
// fails — and 404 for anything else. What pebble's VA talks to when a test
// plays the edge. Header-only, one thread per connection (ConnectionThreads).
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "shared/core/error.h"
#include "tests/support/connection_threads.h"

namespace proxyos::testing {

class Http01Server {
 public:
  /// The key authorization for a token; nullopt: unknown; Error: 503.
  using Answer = std::function<Result<std::optional<std::string>>(const std::string& token)>;

  /// `answer` and `onServed` (called with each token answered 200) run on
  /// connection threads; they must be thread-safe.
  explicit Http01Server(Answer answer, std::function<void(const std::string&)> onServed = {})
      : answer_(std::move(answer)),
        onServed_(std::move(onServed)),
        server_([this](ConnectionThreads::Socket& s, int) { serve(s); }) {}
  ~Http01Server() { server_.stop(); }
  Http01Server(const Http01Server&) = delete;
  Http01Server& operator=(const Http01Server&) = delete;

  uint16_t port() const { return server_.port(); }

 private:
  void serve(ConnectionThreads::Socket& socket) {
    namespace http = boost::beast::http;
    constexpr std::string_view kPrefix = "/.well-known/acme-challenge/";
    boost::beast::flat_buffer buffer;
    for (;;) {
      boost::beast::error_code ec;
      http::request<http::string_body> req;
      http::read(socket, buffer, req, ec);
      if (ec) return;
      http::response<http::string_body> res{http::status::not_found, req.version()};
      const std::string target(req.target());
      if (req.method() == http::verb::get && target.starts_with(kPrefix)) {
        const std::string token = target.substr(kPrefix.size());
        auto answer = answer_(token);
        if (!answer) {
          res.result(http::status::service_unavailable);
        } else if (answer.value()) {
          res.result(http::status::ok);
          res.set(http::field::content_type, "text/plain");
          res.body() = *answer.value();
          if (onServed_) onServed_(token);
        }
      }
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      http::write(socket, res, ec);
      if (ec || !req.keep_alive()) return;
    }
  }

  Answer answer_;
  std::function<void(const std::string&)> onServed_;
  ConnectionThreads server_;  // last: its threads stop before the callbacks go away
};

}  // namespace proxyos::testing
