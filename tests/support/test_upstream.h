#pragma once
// A real upstream HTTP server for edge proxy tests (Boost.Beast, blocking,
// one thread per connection, 127.0.0.1 on port 0). Header-only so a test can
// use it without a support library change. Endpoints:
//   /headers           JSON {server, method, target, connection, headers{lower-case name: value}}
//                      (also sends hop-by-hop and secret response headers for stripping tests)
//   /bytes?n=N[&chunked=1]  N bytes of patternByte(i), streamed in 64 KiB pieces
//   /upload            consumes the body streaming; JSON {bytes, sha256}
//   /stall             answers only after releaseStalled() or shutdown
//   /ws                WebSocket echo
//   /status/NNN        an empty response with that status
// TlsUpstream: an https upstream (openssl s_server) for TLS tests.
// A request with a body and `Expect: 100-continue` gets 100 Continue first.
#include <openssl/evp.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/support/connection_threads.h"
#include "tests/support/loopback.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace proxyos::testing {

/// The byte at offset `i` of /bytes bodies and of test uploads.
inline char patternByte(std::uint64_t i) { return static_cast<char>((i * 131 + (i >> 16)) & 0xff); }

/// Incremental SHA-256 (OpenSSL EVP), hex result.
class Sha256Stream {
 public:
  Sha256Stream() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256Stream() { EVP_MD_CTX_free(ctx_); }
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void update(const void* data, std::size_t n) { EVP_DigestUpdate(ctx_, data, n); }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx_, md, &len);
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
      out += digits[md[i] >> 4];
      out += digits[md[i] & 15];
    }
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

/// Fills `buf` with the pattern starting at offset `from`.
inline void fillPattern(char* buf, std::size_t n, std::uint64_t from) {
  for (std::size_t i = 0; i < n; ++i) buf[i] = patternByte(from + i);
}

class TestUpstream {
 public:
  explicit TestUpstream(std::string name)
      : name_(std::move(name)), connections_([this](tcp::socket& s, int id) { serve(s, id); }) {}
  ~TestUpstream() { shutdown(); }
  TestUpstream(const TestUpstream&) = delete;
  TestUpstream& operator=(const TestUpstream&) = delete;

  std::uint16_t port() const { return connections_.port(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }
  const std::string& name() const { return name_; }
  int connectionsAccepted() const { return connections_.accepted(); }
  void releaseStalled() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

  void shutdown() {
    {
      std::lock_guard lock(mu_);
      released_ = true;  // stalled answers end, so their threads can be joined
      cv_.notify_all();
    }
    connections_.stop();
  }

 private:
  using tcp = boost::asio::ip::tcp;

  void serve(tcp::socket& sock, int connId) {
    namespace http = boost::beast::http;
    boost::beast::flat_buffer buf;
    boost::system::error_code ec;
    for (;;) {
      http::request_parser<http::buffer_body> p;
      p.body_limit(~std::uint64_t{0});  // not none: Beast 1.74 then rejects any Content-Length
      p.header_limit(256 * 1024);
      http::read_header(sock, buf, p, ec);
      if (ec) return;
      const std::string target(p.get().target());
      if (target.rfind("/ws", 0) == 0) {
        boost::beast::websocket::stream<tcp::socket&> ws(sock);
        ws.accept(p.get(), ec);
        while (!ec) {
          boost::beast::flat_buffer msg;
          ws.read(msg, ec);
          if (ec) break;
          ws.text(ws.got_text());
          ws.write(msg.data(), ec);
        }
        return;
      }
      // Beast does not answer Expect itself; a real server would.
      if (!p.is_done() && boost::beast::iequals(p.get()[http::field::expect], "100-continue"))
        boost::asio::write(sock, boost::asio::buffer(std::string_view("HTTP/1.1 100 Continue\r\n\r\n")), ec);
      Sha256Stream sha;
      const std::uint64_t bodyBytes = drainBody(sock, buf, p, sha, ec);
      if (ec) return;
      const bool keep = p.get().keep_alive();
      if (!respond(sock, p.get(), target, connId, bodyBytes, sha, keep) || !keep) return;
    }
  }

  template <class Parser>
  static std::uint64_t drainBody(tcp::socket& sock, boost::beast::flat_buffer& buf, Parser& p, Sha256Stream& sha,
                                 boost::system::error_code& ec) {
    namespace http = boost::beast::http;
    std::vector<char> chunk(64 * 1024);
    std::uint64_t total = 0;
    while (!p.is_done()) {
      p.get().body().data = chunk.data();
      p.get().body().size = chunk.size();
      http::read_some(sock, buf, p, ec);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) return total;
      const std::size_t n = chunk.size() - p.get().body().size;
      sha.update(chunk.data(), n);
      total += n;
    }
    return total;
  }

  template <class Request>
  bool respond(tcp::socket& sock, const Request& req, const std::string& target, int connId, std::uint64_t bodyBytes,
               Sha256Stream& sha, bool keep) {
    namespace http = boost::beast::http;
    boost::system::error_code ec;
    http::response<http::string_body> res{http::status::ok, 11};
    res.keep_alive(keep);
    res.set("X-Upstream", name_);
    if (target.rfind("/bytes", 0) == 0) return streamBytes(sock, target, keep);
    if (target.rfind("/upload", 0) == 0) {
      res.set(http::field::content_type, "application/json");
      res.body() = nlohmann::json{{"bytes", bodyBytes}, {"sha256", sha.hex()}}.dump();
    } else if (target.rfind("/stall", 0) == 0) {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return released_; });
      res.body() = "late";
    } else if (target.rfind("/status/", 0) == 0) {
      res.result(std::stoi(target.substr(8)));
    } else {
      nlohmann::json headers = nlohmann::json::object();
      for (const auto& f : req) {
        std::string key(f.name_string());
        for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value(f.value());
        if (headers.contains(key)) value = headers[key].template get<std::string>() + ", " + value;
        headers[key] = value;
      }
      res.set(http::field::content_type, "application/json");
      // Hop-by-hop and private headers the edge must strip or rewrite.
      res.set(http::field::connection, keep ? "keep-alive, X-Hop-Resp" : "close, X-Hop-Resp");
      res.set("X-Hop-Resp", "must-not-reach-client");
      res.set(http::field::keep_alive, "timeout=30");
      res.set("X-Upstream-Secret", "internal");
      res.body() = nlohmann::json{
          {"server", name_},
          {"method", std::string(req.method_string())},
          {"target", target},
          {"connection", connId},
          {"headers",
           headers}}.dump();
    }
    res.prepare_payload();
    http::write(sock, res, ec);
    return !ec;
  }

  static bool streamBytes(tcp::socket& sock, const std::string& target, bool keep) {
    namespace http = boost::beast::http;
    const auto n = std::stoull(target.substr(target.find("n=") + 2));
    const bool chunked = target.find("chunked=1") != std::string::npos;
    http::response<http::buffer_body> res{http::status::ok, 11};
    res.keep_alive(keep);
    res.set(http::field::content_type, "application/octet-stream");
    if (chunked)
      res.chunked(true);
    else
      res.content_length(n);
    http::response_serializer<http::buffer_body> sr(res);
    boost::system::error_code ec;
    http::write_header(sock, sr, ec);
    std::vector<char> chunk(64 * 1024);
    for (std::uint64_t sent = 0; sent < n && !ec;) {
      const std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), n - sent));
      fillPattern(chunk.data(), len, sent);
      res.body().data = chunk.data();
      res.body().size = len;
      res.body().more = true;
      http::write(sock, sr, ec);
      if (ec == http::error::need_buffer) ec = {};
      sent += len;
    }
    res.body().data = nullptr;
    res.body().size = 0;
    res.body().more = false;
    if (!ec) http::write(sock, sr, ec);
    return !ec;
  }

  std::string name_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  ConnectionThreads connections_;  // last: its threads use everything above
};

/// `openssl s_server -www` on a self-signed certificate for "localhost": it
/// answers GET with a status page over TLS, HTTP/1.0 style (until close).
class TlsUpstream {
 public:
  TlsUpstream() {
    const std::string pem = " -keyout " + dir_.path() + "/key.pem -out " + dir_.path() + "/cert.pem";
    if (std::system(
            ("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost" + pem + " 2>/dev/null").c_str()) !=
        0)
      throw std::runtime_error("openssl req failed");
    server_ = ChildProcess::start("openssl",
                                  {"s_server", "-quiet", "-www", "-accept", "127.0.0.1:" + std::to_string(port_),
                                   "-cert", dir_.path() + "/cert.pem", "-key", dir_.path() + "/key.pem"},
                                  {}, dir_.path() + "/server.log");
    if (!waitForPort(port_, std::chrono::seconds(5))) throw std::runtime_error("s_server did not start");
  }
  std::string url() const { return "https://localhost:" + std::to_string(port_); }

 private:
  TempDir dir_;
  std::uint16_t port_ = freePort();
  ChildProcess server_;
};

}  // namespace proxyos::testing
