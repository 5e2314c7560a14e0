#pragma once
// A real forward-auth provider for SSO tests, and an upstream that records
// what reached it (Boost.Beast, blocking, one thread per connection, keep-
// alive, 127.0.0.1 on port 0). Header-only, like test_upstream.h.
//
// TestForwardAuth answers like Authelia (or Authentik) by the request's
// `session` cookie:
//   session=alice     200  Remote-User: alice, Remote-Email: alice@example.com,
//                          Remote-Groups: admins,dev
//   session=bob       200  Remote-User: bob, Remote-Groups: users (no e-mail)
//   session=redirect  302  Location: https://login.test/?rd=<X-Forwarded-Proto
//                          ://X-Forwarded-Host X-Forwarded-Uri>, one Set-Cookie
//   session=forbidden 403
//   anything else     401  WWW-Authenticate: Basic realm="test-auth"
// Style::Authentik sends X-authentik-username / -email / -groups instead,
// groups separated by '|' ("admins|dev").
// Modes: Normal, Stall (reads the request, never answers until stop()),
// Error500 (every request gets 500). "Down" is stop(): the port then refuses.
//
// Both servers record every request they read (method, target, headers in
// order, body), before answering, so a test that got its response can look
// at what the server saw.
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/connection_threads.h"

namespace proxyos::testing {

/// One request as a RecordingServer read it.
struct RecordedRequest {
  int connection = 0;  // 1, 2, ... in accept order
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // as received, in order
  std::string body;

  /// Every value of `name` (case-insensitive) joined with ", "; "" if none.
  std::string header(std::string_view name) const {
    std::string out;
    for (const auto& [n, v] : headers)
      if (named(n, name)) out += (out.empty() ? "" : ", ") + v;
    return out;
  }
  /// How many lines of `name` (case-insensitive) the request had.
  int count(std::string_view name) const {
    int n = 0;
    for (const auto& h : headers) n += named(h.first, name) ? 1 : 0;
    return n;
  }
  bool has(std::string_view name) const { return count(name) > 0; }

 private:
  static bool named(const std::string& a, std::string_view b) {
    return boost::beast::iequals(a, boost::beast::string_view(b.data(), b.size()));
  }
};

/// The HTTP/1.1 server under TestForwardAuth and RecordingUpstream. `answer`
/// runs on the connection's thread for each recorded request and returns the
/// response, or nullopt to stall (hold the connection, never answer, until
/// stop()). With `webSockets`, an upgrade request is recorded, accepted and
/// echoed.
class RecordingServer {
 public:
  using Response = boost::beast::http::response<boost::beast::http::string_body>;
  using Answer = std::function<std::optional<Response>(const RecordedRequest&)>;

  RecordingServer(Answer answer, bool webSockets)
      : answer_(std::move(answer)),
        webSockets_(webSockets),
        connections_([this](boost::asio::ip::tcp::socket& s, int id) { serve(s, id); }) {}
  ~RecordingServer() { stop(); }
  RecordingServer(const RecordingServer&) = delete;
  RecordingServer& operator=(const RecordingServer&) = delete;

  std::uint16_t port() const { return connections_.port(); }
  int connectionsAccepted() const { return connections_.accepted(); }

  std::vector<RecordedRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::size_t requestCount() const {
    std::lock_guard lock(mu_);
    return requests_.size();
  }
  /// Requests recorded from index `from` on.
  std::vector<RecordedRequest> requestsSince(std::size_t from) const {
    std::lock_guard lock(mu_);
    if (from >= requests_.size()) return {};
    return {requests_.begin() + static_cast<std::ptrdiff_t>(from), requests_.end()};
  }

  /// Closes the listener and every connection (stalled ones included) and
  /// joins every thread. Idempotent. Afterwards the port refuses connections.
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;  // stalled answers end, so their threads can be joined
      cv_.notify_all();
    }
    connections_.stop();
  }

 private:
  using tcp = boost::asio::ip::tcp;

  void serve(tcp::socket& sock, int connId) {
    namespace http = boost::beast::http;
    boost::beast::flat_buffer buf;
    for (;;) {
      boost::system::error_code ec;
      http::request_parser<http::string_body> p;
      p.header_limit(256 * 1024);
      p.body_limit(16 * 1024 * 1024);
      http::read(sock, buf, p, ec);
      if (ec) return;
      const auto& req = p.get();
      RecordedRequest rec;
      rec.connection = connId;
      rec.method = std::string(req.method_string());
      rec.target = std::string(req.target());
      for (const auto& f : req) rec.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      rec.body = req.body();
      {
        std::lock_guard lock(mu_);
        requests_.push_back(rec);
      }
      if (webSockets_ && boost::beast::websocket::is_upgrade(req)) {
        boost::beast::websocket::stream<tcp::socket&> ws(sock);
        ws.accept(req, ec);
        while (!ec) {
          boost::beast::flat_buffer msg;
          ws.read(msg, ec);
          if (ec) break;
          ws.text(ws.got_text());
          ws.write(msg.data(), ec);
        }
        return;
      }
      std::optional<Response> res = answer_(rec);
      if (!res) {  // stall: hold the connection until stop()
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_; });
        return;
      }
      const bool keep = req.keep_alive();
      res->version(11);
      res->keep_alive(keep);
      res->prepare_payload();
      http::write(sock, *res, ec);
      if (ec || !keep) return;
    }
  }

  Answer answer_;
  const bool webSockets_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<RecordedRequest> requests_;
  ConnectionThreads connections_;  // last: its threads use everything above
};

/// A forward-auth provider (see the top of this file).
class TestForwardAuth {
 public:
  enum class Style { Authelia, Authentik };
  enum class Mode { Normal, Stall, Error500 };

  explicit TestForwardAuth(Style style = Style::Authelia)
      : style_(style), server_([this](const RecordedRequest& r) { return answer(r); }, false) {}

  std::uint16_t port() const { return server_.port(); }
  /// The forwardAuthUrl of a provider using this server.
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()) + "/auth"; }
  void setMode(Mode mode) { mode_ = mode; }
  /// Down: nothing listens on port() afterwards.
  void stop() { server_.stop(); }

  int connectionsAccepted() const { return server_.connectionsAccepted(); }
  std::vector<RecordedRequest> requests() const { return server_.requests(); }
  std::size_t requestCount() const { return server_.requestCount(); }
  std::vector<RecordedRequest> requestsSince(std::size_t from) const { return server_.requestsSince(from); }

  /// The value of cookie `name` in the request's Cookie line(s), or "".
  static std::string cookie(const RecordedRequest& r, std::string_view name) {
    for (const auto& [n, v] : r.headers) {
      if (!boost::beast::iequals(n, "cookie")) continue;
      std::string_view rest = v;
      while (!rest.empty()) {
        const auto semi = rest.find(';');
        std::string_view pair = rest.substr(0, semi);
        rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
        while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
        if (pair.size() > name.size() && pair.substr(0, name.size()) == name && pair[name.size()] == '=')
          return std::string(pair.substr(name.size() + 1));
      }
    }
    return {};
  }

  /// Every byte outside unreserved percent-encoded.
  static std::string urlEncode(std::string_view s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (const char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
          c == '_' || c == '~') {
        out += ch;
      } else {
        out += '%';
        out += hex[c >> 4];
        out += hex[c & 15];
      }
    }
    return out;
  }

 private:
  using Response = RecordingServer::Response;

  std::optional<Response> answer(const RecordedRequest& r) const {
    namespace http = boost::beast::http;
    Response res{http::status::ok, 11};
    res.set(http::field::server, "test-forward-auth");
    switch (mode_.load()) {
      case Mode::Stall: return std::nullopt;
      case Mode::Error500:
        res.result(http::status::internal_server_error);
        res.set(http::field::content_type, "text/plain");
        res.body() = "auth backend exploded";
        return res;
      case Mode::Normal: break;
    }
    const std::string session = cookie(r, "session");
    const bool authentik = style_ == Style::Authentik;
    if (session == "alice" || session == "bob") {
      const bool alice = session == "alice";
      res.set(authentik ? "X-authentik-username" : "Remote-User", session);
      if (alice) res.set(authentik ? "X-authentik-email" : "Remote-Email", "alice@example.com");
      res.set(authentik ? "X-authentik-groups" : "Remote-Groups",
              alice ? (authentik ? "admins|dev" : "admins,dev") : "users");
      return res;
    }
    if (session == "redirect") {
      const std::string original =
          r.header("X-Forwarded-Proto") + "://" + r.header("X-Forwarded-Host") + r.header("X-Forwarded-Uri");
      res.result(http::status::found);
      res.set(http::field::location, "https://login.test/?rd=" + urlEncode(original));
      res.set(http::field::set_cookie, "auth_flow=started; Path=/; HttpOnly");
      return res;
    }
    res.set(http::field::content_type, "text/plain");
    if (session == "forbidden") {
      res.result(http::status::forbidden);
      res.body() = "forbidden by test-forward-auth";
      return res;
    }
    res.result(http::status::unauthorized);
    res.set(http::field::www_authenticate, "Basic realm=\"test-auth\"");
    res.body() = "unauthorized by test-forward-auth";
    return res;
  }

  const Style style_;
  std::atomic<Mode> mode_{Mode::Normal};
  RecordingServer server_;  // last: its threads call answer(), which reads the members above
};

/// An upstream that records every request (identity headers, body) and
/// answers 200 JSON {method, target, bodyBytes}; /ws... upgrades are
/// accepted and echoed.
class RecordingUpstream {
 public:
  RecordingUpstream()
      : server_(
            [](const RecordedRequest& r) -> std::optional<RecordingServer::Response> {
              namespace http = boost::beast::http;
              RecordingServer::Response res{http::status::ok, 11};
              res.set(http::field::content_type, "application/json");
              res.set("X-Upstream", "recording");
              res.body() =
                  nlohmann::json{{"method", r.method}, {"target", r.target}, {"bodyBytes", r.body.size()}}.dump();
              return res;
            },
            true) {}

  std::uint16_t port() const { return server_.port(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }
  int connectionsAccepted() const { return server_.connectionsAccepted(); }
  std::vector<RecordedRequest> requests() const { return server_.requests(); }
  std::size_t requestCount() const { return server_.requestCount(); }
  std::vector<RecordedRequest> requestsSince(std::size_t from) const { return server_.requestsSince(from); }

 private:
  RecordingServer server_;
};

}  // namespace proxyos::testing
