#pragma once
// HTTPS on the data plane (ARCHITECTURE.md §2 steps 1 and 3): the server
// TLS context with SNI selection from the CertHolder, what the data plane
// asks of the certificate side (ACME challenge answers, whether a host may
// be redirected to https), and the small pure rules around them.
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cert_table.h"
#include "shared/core/error.h"

namespace proxyos::edge {

/// The certificate side as the data plane sees it (the CertManager in the
/// edge app, fakes in tests).
class TlsAuthority {
 public:
  virtual ~TlsAuthority() = default;
  /// The HTTP-01 key authorization for `token` (nullopt: unknown token).
  /// Blocking (Redis): the data plane calls it on worker threads only.
  virtual Result<std::optional<std::string>> challengeAnswer(const std::string& token) = 0;
  /// Whether plain-HTTP requests to `host` (lower-case, no port) on a route
  /// with forceHttps go to https: only once it has a certificate a browser
  /// can be sent to (internal: issued; auto: the ACME certificate is in).
  virtual bool redirectsToHttps(std::string_view host) const = 0;
};

/// Given to ProxyServer::setTls() before listening.
struct TlsServing {
  CertHolder* certs = nullptr;
  TlsAuthority* authority = nullptr;
  boost::asio::thread_pool* workers = nullptr;  // runs challengeAnswer()
  /// The system host (PROXYOS_URL) gets its certificate by ACME: answer
  /// challenges for it too.
  bool systemHostAcme = false;
};

/// The server context: TLS 1.2 and 1.3 only, ECDHE with AEAD suites,
/// session tickets and a session cache for resumption, no renegotiation,
/// and the certificate chosen per connection by SNI from `certs` (exact
/// name, then wildcard). A ClientHello without SNI, or for a name without a
/// certificate, fails with an unrecognized_name alert — other connections
/// are untouched.
Result<std::unique_ptr<boost::asio::ssl::context>> makeServerTlsContext(CertHolder& certs);

/// The ACME HTTP-01 token of a request path "/.well-known/acme-challenge/<token>"
/// (token: base64url characters only), else nullopt.
std::optional<std::string_view> acmeChallengeToken(std::string_view path);

/// forceHttps: where a plain-HTTP request goes. `hostHeader` as the client
/// sent it; when it names a port (a development set-up on odd ports), the
/// HTTPS listener's port replaces it, otherwise the default port is meant
/// on both sides. `target` is the request target (origin form).
std::string httpsRedirectUrl(std::string_view hostHeader, std::string_view target, std::uint16_t httpsPort);

}  // namespace proxyos::edge
