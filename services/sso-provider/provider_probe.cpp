#include "provider_probe.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "shared/core/url.h"
#include "shared/model/hostname.h"
#include "shared/model/json_reader.h"

namespace proxyos::sso {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kMaxCredentialBytes = 8192;
constexpr std::uint32_t kMaxResponseHeaderBytes = 64 * 1024;

// cpprestsdk and Beast write header values raw: a CR/LF from the request body
// would start a header of the caller's choosing (TOOLCHAIN.md).
std::string headerSafe(std::string v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; }), v.end());
  return v;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// getaddrinfo cannot be cancelled, and Asio's resolver joins its worker
// thread when destroyed, so a DNS server that never answers would hold the
// probe past its timeout. The lookup therefore runs on a detached thread that
// the probe simply stops waiting for; the thread ends when getaddrinfo does.
struct Lookup {
  std::mutex mu;
  std::condition_variable finished;
  bool done = false;
  boost::system::error_code ec;
  tcp::resolver::results_type endpoints;
};

std::shared_ptr<Lookup> startLookup(const std::string& host, std::uint16_t port) {
  auto lookup = std::make_shared<Lookup>();
  std::thread([lookup, host, port] {
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    boost::system::error_code ec;
    auto endpoints = resolver.resolve(host, std::to_string(port), tcp::resolver::numeric_service, ec);
    std::lock_guard lock(lookup->mu);
    lookup->ec = ec;
    lookup->endpoints = std::move(endpoints);
    lookup->done = true;
    lookup->finished.notify_all();
  }).detach();
  return lookup;
}

/// One probe's budget and its private io_context, driven on the calling
/// thread one asynchronous step at a time. The steps run on streams whose
/// expiry is the probe's deadline, so every step ends by then.
class Attempt {
 public:
  Attempt(const Clock& clock, std::int64_t timeoutMs)
      : clock_(clock), started_(clock.monotonic()), budget_(timeoutMs),
        timedOut_("timed out after " + std::to_string(timeoutMs) + " ms") {}

  std::chrono::milliseconds remaining() const {
    return std::max(budget_ - elapsed(), std::chrono::milliseconds(0));
  }
  std::int64_t elapsedMs() const { return elapsed().count(); }
  const std::string& timedOut() const { return timedOut_; }

  /// Starts one operation with a completion handler and runs it to its end.
  template <class Start>
  beast::error_code run(Start&& start) {
    beast::error_code result = asio::error::would_block;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }

  asio::io_context ioc;

 private:
  std::chrono::milliseconds elapsed() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.monotonic() - started_);
  }
  const Clock& clock_;
  Clock::MonoTime started_;
  std::chrono::milliseconds budget_;
  std::string timedOut_;
};

bhttp::request<bhttp::empty_body> forwardAuthRequest(const Url& url, const ProbeCredentials& credentials) {
  const std::string target = (url.path.empty() ? "/" : url.path) + (url.query.empty() ? "" : "?" + url.query);
  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
  req.set(bhttp::field::host, url.authority());
  // What the edge sends for a browser asking for https://proxyos-test.invalid/
  // (a name that can never be a real route).
  req.set("X-Forwarded-Method", "GET");
  req.set("X-Forwarded-Proto", "https");
  req.set("X-Forwarded-Host", "proxyos-test.invalid");
  req.set("X-Forwarded-Uri", "/");
  req.set("X-Forwarded-For", "127.0.0.1");
  req.set(bhttp::field::accept, "text/html");
  req.set(bhttp::field::user_agent, "ProxyOS-sso-provider-test");
  req.set(bhttp::field::connection, "close");
  if (!credentials.cookie.empty()) req.set(bhttp::field::cookie, headerSafe(credentials.cookie));
  if (!credentials.authorization.empty())
    req.set(bhttp::field::authorization, headerSafe(credentials.authorization));
  return req;
}

template <class Stream>
void exchange(Attempt& attempt, Stream& stream, const Url& url, const ProbeCredentials& credentials,
              ProbeFacts& facts) {
  const auto req = forwardAuthRequest(url, credentials);
  auto ec = attempt.run([&](auto handler) { bhttp::async_write(stream, req, std::move(handler)); });
  if (ec) {
    facts.error = ec == beast::error::timeout ? attempt.timedOut() : "sending the request failed: " + ec.message();
    return;
  }
  // Only the status and headers matter; the body is never read.
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::empty_body> parser;
  parser.header_limit(kMaxResponseHeaderBytes);
  ec = attempt.run([&](auto handler) { bhttp::async_read_header(stream, buffer, parser, std::move(handler)); });
  if (ec) {
    facts.error = ec == beast::error::timeout        ? attempt.timedOut()
                  : ec == bhttp::error::end_of_stream ? "the connection was closed before a response arrived"
                                                      : "no valid HTTP response: " + ec.message();
    return;
  }
  const auto& res = parser.get();
  facts.reachable = true;
  facts.status = static_cast<int>(res.result_int());
  for (const auto& field : res) {
    const std::string name(field.name_string());
    const bool seen = std::any_of(facts.headersReturned.begin(), facts.headersReturned.end(), [&](const auto& n) {
      return model::toLowerAscii(n) == model::toLowerAscii(name);
    });
    if (!seen) facts.headersReturned.push_back(name);
  }
  if (facts.status >= 300 && facts.status < 400) facts.redirectLocation = std::string(res[bhttp::field::location]);
}

std::string connectError(const beast::error_code& ec, const Attempt& attempt) {
  if (ec == beast::error::timeout) return attempt.timedOut();
  if (ec == asio::error::connection_refused) return "connection refused";
  return "connection failed: " + ec.message();
}

}  // namespace

// ---------------------------------------------------------------------------
// Request body

Result<ProbeRequest> parseProbeRequest(std::string_view body, bool unsaved) {
  nlohmann::json document = nlohmann::json::object();
  if (body.find_first_not_of(" \t\r\n") != std::string_view::npos) {
    auto parsed = model::parseJsonObject(body);
    if (!parsed) return parsed.error();
    document = std::move(parsed.value());
  }
  ProbeRequest out;
  model::ErrorCollector errors;
  model::JsonObjectReader in(document, "", errors);
  for (auto [key, value] : {std::pair{"cookie", &out.credentials.cookie},
                            std::pair{"authorization", &out.credentials.authorization}}) {
    if (in.readString(key, *value) && value->size() > kMaxCredentialBytes)
      errors.add(key, "invalid_value", "must be at most 8192 bytes");
  }
  if (unsaved) {
    if (const nlohmann::json* provider = in.readObject("provider")) {
      auto decoded = model::decodeSsoProvider(*provider, "provider");
      if (decoded)
        out.provider = std::move(decoded.value());
      else
        for (const auto& e : decoded.error().details) errors.insertAt(errors.size(), e);
    } else if (!errors.hasErrorAt("provider")) {
      errors.add("provider", "required", "is required: the provider settings to test");
    }
  } else if (in.has("provider")) {
    errors.add("provider", "unknown_field",
               "not accepted when testing a saved provider; POST /api/sso-providers/test tests unsaved settings");
  }
  in.finish();
  if (!errors.empty()) return errors.toError();
  return out;
}

// ---------------------------------------------------------------------------
// Verdict

std::string verdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::Ok: return "ok";
    case Verdict::Warning: return "warning";
    case Verdict::Error: return "error";
  }
  return "error";
}

ProbeReport assessProbe(const model::SsoProvider& provider, const ProbeFacts& facts, bool withCredentials) {
  ProbeReport r{facts, {}, {}, Verdict::Error, ""};
  auto judge = [&r](Verdict v, std::string message) {
    r.verdict = v;
    r.message = std::move(message);
    return r;
  };
  if (!facts.reachable) return judge(Verdict::Error, "cannot reach the provider: " + facts.error);

  const int s = facts.status;
  const std::string status = std::to_string(s);
  if (s >= 200 && s < 300) {
    // Identity headers only come with an "allow"; any other answer carries none.
    for (const auto& configured : provider.authResponseHeaders) {
      const std::string wanted = model::toLowerAscii(configured);
      const auto& names = facts.headersReturned;
      const auto match = std::find_if(names.begin(), names.end(),
                                      [&](const std::string& n) { return model::toLowerAscii(n) == wanted; });
      if (match == names.end())
        r.missingHeaders.push_back(configured);
      else if (*match != configured)
        r.caseHints.push_back({configured, *match});
    }
    if (!withCredentials)
      return judge(Verdict::Warning, "answered " + status +
                                         " to a request without credentials — is this really the forward-auth "
                                         "endpoint? Everyone would be let in");
    if (!r.missingHeaders.empty())
      return judge(Verdict::Warning, "accepted the credentials but did not return " + joined(r.missingHeaders));
    return judge(Verdict::Ok, "accepted the credentials and returned every configured header");
  }
  if (s >= 300 && s < 400) {
    if (facts.redirectLocation.empty())
      return judge(Verdict::Warning, "answered " + status + " without a Location header, so browsers would be stuck");
    if (withCredentials)
      return judge(Verdict::Warning, "redirected to " + facts.redirectLocation +
                                         " although credentials were sent: they were not accepted");
    return judge(Verdict::Ok,
                 "redirects anonymous users to " + facts.redirectLocation + ": looks like a forward-auth endpoint");
  }
  if (s == 401 && withCredentials)
    return judge(Verdict::Warning, "answered 401: the endpoint asks for a login but refused the credentials sent");
  if (s == 401)
    return judge(Verdict::Ok, "answered 401 to a request without credentials: looks like a forward-auth endpoint");
  if (s == 404 || s == 405)
    return judge(Verdict::Error, "answered " + status + ": not a forward-auth endpoint (check forwardAuthUrl's path)");
  if (s >= 400 && s < 500)
    return judge(Verdict::Warning,
                 "answered " + status + ", where a forward-auth endpoint answers 2xx, 401 or a redirect");
  if (s >= 500)
    return judge(Verdict::Error, "answered " + status + ": the provider is failing, and the edge would answer 503");
  return judge(Verdict::Error, "answered " + status + ", which is not a final HTTP status");
}

nlohmann::ordered_json toJson(const ProbeReport& report) {
  const ProbeFacts& f = report.facts;
  auto hints = nlohmann::ordered_json::array();
  for (const auto& h : report.caseHints) hints.push_back({{"configured", h.configured}, {"returned", h.returned}});
  nlohmann::ordered_json j;
  j["reachable"] = f.reachable;
  j["status"] = f.status;
  j["latencyMs"] = f.latencyMs;
  j["headersReturned"] = f.headersReturned;
  j["missingHeaders"] = report.missingHeaders;
  j["caseHints"] = std::move(hints);
  j["redirectLocation"] = f.redirectLocation;
  j["error"] = f.error;
  j["verdict"] = verdictName(report.verdict);
  j["message"] = report.message;
  return j;
}

// ---------------------------------------------------------------------------
// The request

BeastForwardAuthClient::BeastForwardAuthClient(const Clock& clock)
    : clock_(clock), tls_(asio::ssl::context::tls_client) {
  boost::system::error_code ec;
  tls_.set_default_verify_paths(ec);
  if (ec) spdlog::warn("cannot load the system CA store ({}): https providers will fail verification", ec.message());
  tls_.set_verify_mode(asio::ssl::verify_peer);
  SSL_CTX_set_min_proto_version(tls_.native_handle(), TLS1_2_VERSION);
}

ProbeFacts BeastForwardAuthClient::fetch(const model::SsoProvider& provider, const ProbeCredentials& credentials) {
  ProbeFacts facts;
  Attempt attempt(clock_, provider.timeoutMs);
  try {
    auto parsed = parseUrl(provider.forwardAuthUrl);
    if (!parsed) {
      facts.error = "forwardAuthUrl: " + parsed.error().message;
      return facts;
    }
    const Url& url = parsed.value();

    auto lookup = startLookup(url.host, url.port);
    {
      std::unique_lock lock(lookup->mu);
      if (!lookup->finished.wait_for(lock, attempt.remaining(), [&] { return lookup->done; })) {
        facts.error = attempt.timedOut();
      } else if (lookup->ec || lookup->endpoints.empty()) {
        facts.error = "DNS lookup failed for " + url.host;
      }
    }
    if (!facts.error.empty()) {
      facts.latencyMs = attempt.elapsedMs();
      return facts;
    }

    if (url.scheme == "https") {
      beast::ssl_stream<beast::tcp_stream> stream(attempt.ioc, tls_);
      SSL* ssl = stream.native_handle();
      boost::system::error_code notIp;
      asio::ip::make_address(url.host, notIp);
      if (notIp) {  // a name: send it (SNI) and check the certificate against it
        SSL_set_tlsext_host_name(ssl, url.host.c_str());
        SSL_set1_host(ssl, url.host.c_str());
      } else {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url.host.c_str());
      }
      auto& socket = beast::get_lowest_layer(stream);
      socket.expires_after(attempt.remaining());
      auto ec = attempt.run([&](auto handler) { socket.async_connect(lookup->endpoints, std::move(handler)); });
      if (ec) {
        facts.error = connectError(ec, attempt);
      } else {
        ec = attempt.run(
            [&](auto handler) { stream.async_handshake(asio::ssl::stream_base::client, std::move(handler)); });
        const long verify = SSL_get_verify_result(ssl);
        if (ec == beast::error::timeout)
          facts.error = attempt.timedOut();
        else if (ec)
          facts.error = "TLS handshake failed: " +
                        (verify != X509_V_OK ? std::string(X509_verify_cert_error_string(verify)) : ec.message());
        else
          exchange(attempt, stream, url, credentials, facts);
      }
    } else {
      beast::tcp_stream stream(attempt.ioc);
      stream.expires_after(attempt.remaining());
      auto ec = attempt.run([&](auto handler) { stream.async_connect(lookup->endpoints, std::move(handler)); });
      if (ec)
        facts.error = connectError(ec, attempt);
      else
        exchange(attempt, stream, url, credentials, facts);
    }
  } catch (const std::exception& e) {
    facts.reachable = false;
    facts.error = std::string("the test could not run: ") + e.what();
  }
  facts.latencyMs = attempt.elapsedMs();
  return facts;
}

ProbeReport probeProvider(ForwardAuthClient& client, const model::SsoProvider& provider,
                          const ProbeCredentials& credentials) {
  return assessProbe(provider, client.fetch(provider, credentials), !credentials.empty());
}

}  // namespace proxyos::sso
