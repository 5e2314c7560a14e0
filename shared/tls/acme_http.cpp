#include "shared/tls/acme_http.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <optional>

#include "shared/core/url.h"

namespace proxyos::tls::acme {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

Error unreachable(std::string message) {
  return Error::make(ErrorKind::Unavailable, "acme_unreachable", std::move(message));
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool isIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Runs one asynchronous operation to completion. The asynchronous form is
// used (from a blocking function) because beast::tcp_stream's deadline only
// bounds asynchronous operations.
template <class Initiate>
beast::error_code runToCompletion(asio::io_context& ioc, Initiate&& initiate) {
  beast::error_code result = asio::error::would_block;
  initiate([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

class Exchange {
 public:
  Exchange(const HttpRequest& request, const HttpOptions& options, const Url& url)
      : request_(request), options_(options), url_(url) {}

  Result<HttpAnswer> run() {
    auto endpoints = resolve();
    if (!endpoints) return endpoints.error();
    if (url_.scheme == "http") {
      beast::tcp_stream stream(ioc_);
      stream.expires_after(options_.timeout);
      if (auto ec = connect(stream, endpoints.value())) return failure("connect", ec);
      return talk(stream);
    }
    ssl::context ctx(ssl::context::tls_client);
    beast::error_code ec;
    if (!options_.caRootFile.empty()) {
      ctx.load_verify_file(options_.caRootFile, ec);
      if (ec) return unreachable("cannot load the ACME CA root " + options_.caRootFile + ": " + ec.message());
    } else {
      ctx.set_default_verify_paths(ec);
      if (ec) return unreachable("cannot load the system CA store: " + ec.message());
    }
    ctx.set_verify_mode(ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(ioc_, ctx);
    SSL* ssl = stream.native_handle();
    // The host check: OpenSSL compares the name (or IP) during the handshake.
    if (isIpLiteral(url_.host)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url_.host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, url_.host.c_str());
      SSL_set1_host(ssl, url_.host.c_str());
    }
    beast::get_lowest_layer(stream).expires_after(options_.timeout);
    if (auto cec = connect(beast::get_lowest_layer(stream), endpoints.value())) return failure("connect", cec);
    ec = runToCompletion(ioc_, [&](auto handler) { stream.async_handshake(ssl::stream_base::client, handler); });
    if (ec) {
      std::string why = ec.message();
      const long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK)
        why = std::string("certificate verification failed: ") + X509_verify_cert_error_string(verify);
      if (ec == beast::error::timeout) why = timeoutMessage();
      return unreachable("TLS handshake with " + url_.authority() + " failed: " + why);
    }
    return talk(stream);
  }

 private:
  Result<tcp::resolver::results_type> resolve() {
    tcp::resolver resolver(ioc_);
    tcp::resolver::results_type results;
    beast::error_code result = asio::error::would_block;
    resolver.async_resolve(url_.host, std::to_string(url_.port),
                           [&](beast::error_code ec, tcp::resolver::results_type r) {
                             result = ec;
                             results = std::move(r);
                           });
    ioc_.restart();
    if (ioc_.run_for(options_.timeout) == 0 && result == asio::error::would_block) {
      resolver.cancel();
      ioc_.run();
      return unreachable("resolving " + url_.host + ": " + timeoutMessage());
    }
    if (result) return unreachable("cannot resolve " + url_.host + ": " + result.message());
    return results;
  }

  beast::error_code connect(beast::tcp_stream& stream, const tcp::resolver::results_type& endpoints) {
    return runToCompletion(ioc_, [&](auto handler) { stream.async_connect(endpoints, handler); });
  }

  template <class Stream>
  Result<HttpAnswer> talk(Stream& stream) {
    http::request<http::string_body> req;
    req.method_string(request_.method);
    std::string target = url_.path.empty() ? "/" : url_.path;
    if (!url_.query.empty()) target += "?" + url_.query;
    req.target(target);
    req.version(11);
    req.set(http::field::host, url_.authority());
    req.set(http::field::user_agent, "proxyos-acme");
    for (const auto& [name, value] : request_.headers) req.set(name, value);
    req.keep_alive(false);
    if (!request_.body.empty() || request_.method == "POST") {
      req.body() = request_.body;
      req.prepare_payload();
    }
    if (auto ec = runToCompletion(ioc_, [&](auto handler) { http::async_write(stream, req, handler); }))
      return failure("sending the request", ec);

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(options_.bodyLimit);
    if (request_.method == "HEAD") parser.skip(true);
    if (auto ec = runToCompletion(ioc_, [&](auto handler) { http::async_read(stream, buffer, parser, handler); }))
      return failure("reading the response", ec);

    auto& res = parser.get();
    HttpAnswer answer;
    answer.status = static_cast<int>(res.result_int());
    for (const auto& field : res) answer.headers[lower(std::string(field.name_string()))] = std::string(field.value());
    answer.body = std::move(res.body());
    // No TLS close_notify: the connection is ours alone and the answer is complete.
    return answer;
  }

  std::string timeoutMessage() const { return "timed out after " + std::to_string(options_.timeout.count()) + " ms"; }

  Error failure(const std::string& step, const beast::error_code& ec) const {
    const std::string why = ec == beast::error::timeout ? timeoutMessage() : ec.message();
    return unreachable(step + " (" + url_.authority() + "): " + why);
  }

  const HttpRequest& request_;
  const HttpOptions& options_;
  const Url& url_;
  asio::io_context ioc_;
};

}  // namespace

std::string HttpAnswer::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

Result<HttpAnswer> httpExchange(const HttpRequest& request, const HttpOptions& options) {
  auto url = parseUrl(request.url);
  if (!url) return unreachable("bad URL '" + request.url + "': " + url.error().message);
  if (url.value().scheme != "http" && url.value().scheme != "https")
    return unreachable("bad URL '" + request.url + "': not http or https");
  Exchange exchange(request, options, url.value());
  return exchange.run();
}

}  // namespace proxyos::tls::acme
