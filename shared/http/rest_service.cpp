#include "shared/http/rest_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cpprest/containerstream.h>
#include <cpprest/http_listener.h>
#include <pplx/threadpool.h>

#include "shared/core/id.h"
#include "shared/core/signals.h"

namespace proxyos::http {

namespace wh = web::http;

namespace {

// Strips CR/LF: cpprestsdk writes header values raw (TOOLCHAIN.md).
std::string headerSafe(std::string v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](char c) { return c == '\r' || c == '\n'; }), v.end());
  return v;
}

enum class BodyRead { Ok, TooLarge };

// Reads the body, stopping as soon as it exceeds `limit`.
BodyRead readBody(wh::http_request& req, size_t limit, std::string& out) {
  if (req.headers().has(wh::header_names::content_length) && req.headers().content_length() > limit)
    return BodyRead::TooLarge;
  auto stream = req.body();
  if (!stream.is_valid()) return BodyRead::Ok;
  concurrency::streams::container_buffer<std::string> buf;
  size_t total = 0;
  for (;;) {
    const size_t n = stream.read(buf, 64 * 1024).get();
    if (n == 0) break;
    total += n;
    if (total > limit) return BodyRead::TooLarge;
  }
  // container_buffer grows its string by the requested block size: keep only what was read.
  out = std::move(buf.collection());
  out.resize(total);
  return BodyRead::Ok;
}

}  // namespace

RestService::RestService(ServiceOptions options, Router router, std::function<bool()> ready,
                         std::shared_ptr<Metrics> metrics, const Clock& clock)
    : options_(std::move(options)),
      router_(std::move(router)),
      ready_(std::move(ready)),
      metrics_(std::move(metrics)),
      clock_(clock) {}

RestService::~RestService() { stop(); }

Response RestService::handle(Request req, std::string* routePattern) const {
  auto setPattern = [&](const std::string& p) {
    if (routePattern != nullptr) *routePattern = p;
  };
  Response resp;
  if (req.method == "GET" && req.path == "/healthz") {
    setPattern("/healthz");
    return Response::json(200, {{"status", "ok"}});
  }
  if (req.method == "GET" && req.path == "/readyz") {
    setPattern("/readyz");
    return ready_() ? Response::json(200, {{"status", "ready"}}) : Response::json(503, {{"status", "not_ready"}});
  }
  if (req.method == "GET" && req.path == "/metrics") {
    setPattern("/metrics");
    Response r;
    r.body = metrics_->render();
    r.contentType = "text/plain; version=0.0.4";
    return r;
  }
  resp = router_.dispatch(req, routePattern);
  if (req.method == "HEAD") resp.body.clear();
  return resp;
}

void RestService::start() {
  static std::once_flag poolInit;
  std::call_once(poolInit, [] { crossplat::threadpool::initialize_with_threads(4); });
  pool_ = std::make_unique<boost::asio::thread_pool>(static_cast<size_t>(options_.workerThreads));
  const std::string address = "http://" + options_.listen.str();
  listener_ = std::make_unique<web::http::experimental::listener::http_listener>(address);
  listener_->support([this](wh::http_request raw) {
    boost::asio::post(*pool_, [this, raw]() mutable {
      const auto started = clock_.monotonic();
      Request req;
      req.method = raw.method();
      req.requestId = raw.headers().has("X-Request-Id") ? raw.headers()["X-Request-Id"] : "";
      if (!isValidRequestId(req.requestId)) req.requestId = newId(clock_);
      Response resp;
      std::string pattern = "unmatched";
      try {
        const auto uri = raw.relative_uri();
        req.path = web::uri::decode(uri.path());
        for (const auto& [k, v] : web::uri::split_query(uri.query())) req.query[web::uri::decode(k)] = web::uri::decode(v);
        for (const auto& [k, v] : raw.headers()) {
          std::string name = k;
          std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
          req.headers[name] = v;
        }
        req.remoteAddress = raw.remote_address();
        if (readBody(raw, options_.maxBodyBytes, req.body) == BodyRead::TooLarge) {
          resp = Response::error(Error::make(ErrorKind::PayloadTooLarge, "payload_too_large",
                                             "request body exceeds " + std::to_string(options_.maxBodyBytes) + " bytes"));
        } else {
          resp = handle(req, &pattern);
        }
      } catch (const std::exception& e) {
        resp = Response::error(Error::make(ErrorKind::BadRequest, "bad_request", "malformed request"));
      }
      wh::http_response out(static_cast<wh::status_code>(resp.status));
      for (const auto& [k, v] : resp.headers) out.headers().add(k, headerSafe(v));
      out.headers().add("X-Request-Id", req.requestId);
      if (!resp.contentType.empty()) out.set_body(resp.body, resp.contentType);
      raw.reply(out).then([](pplx::task<void> t) {
        try {
          t.get();
        } catch (...) {  // the client went away: nothing to do
        }
      });
      const double secs = std::chrono::duration<double>(clock_.monotonic() - started).count();
      metrics_->observeRequest(req.method, pattern, resp.status, secs);
      // The query string is never logged: it may carry codes or tokens.
      spdlog::info("access method={} path={} status={} duration_ms={:.2f} request_id={} remote={}", req.method,
                   req.path, resp.status, secs * 1000, req.requestId, req.remoteAddress);
    });
  });
  try {
    listener_->open().wait();
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot listen on " + options_.listen.str() + ": " + e.what());
  }
  spdlog::info("{} listening on {}", options_.name, address);
}

void RestService::stop() {
  if (listener_) {
    try {
      listener_->close().wait();
    } catch (const std::exception&) {
    }
    listener_.reset();
  }
  if (pool_) {
    pool_->join();
    pool_.reset();
  }
}

int serveUntilSignal(RestService& rest) {
  try {
    rest.start();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  const int sig = waitForTerminationSignal();
  spdlog::info("signal {} received; shutting down", sig);
  rest.stop();
  return 0;
}

}  // namespace proxyos::http
