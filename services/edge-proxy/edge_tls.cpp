#include "edge_tls.h"

#include <openssl/ssl.h>

#include "shared/crypto/openssl_error.h"

namespace proxyos::edge {

namespace {

// Mozilla's "intermediate" TLS 1.2 list, ECDSA first (our keys are P-256);
// TLS 1.3 suites are OpenSSL's defaults (all AEAD).
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

int chooseCertificate(SSL* ssl, int* alert, void* arg) {
  const auto* holder = static_cast<const CertHolder*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  const auto table = holder->current();
  const ServerCertificate* cert = name && table ? table->find(name) : nullptr;
  if (!cert || !cert->installOn(ssl)) {
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  return SSL_TLSEXT_ERR_OK;
}

bool isTokenChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

}  // namespace

Result<std::unique_ptr<boost::asio::ssl::context>> makeServerTlsContext(CertHolder& certs) {
  auto ctx = std::make_unique<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  const auto failed = [](const char* what) {
    return Error::make(ErrorKind::Internal, "tls_setup_failed", std::string(what) + ": " + crypto::openSslError());
  };
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) return failed("minimum TLS version");
  if (SSL_CTX_set_max_proto_version(native, TLS1_3_VERSION) != 1) return failed("maximum TLS version");
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) return failed("TLS 1.2 cipher suites");
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  // Resumption: session tickets (on by default; keys per context, so every
  // name shares them) and the server-side cache for session ids.
  static constexpr unsigned char kSessionContext[] = "proxyos-edge";
  SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_SERVER);
  SSL_CTX_set_tlsext_servername_callback(native, chooseCertificate);
  SSL_CTX_set_tlsext_servername_arg(native, &certs);
  return ctx;
}

std::optional<std::string_view> acmeChallengeToken(std::string_view path) {
  constexpr std::string_view kPrefix = "/.well-known/acme-challenge/";
  if (!path.starts_with(kPrefix)) return std::nullopt;
  const std::string_view token = path.substr(kPrefix.size());
  if (token.empty() || token.size() > 256) return std::nullopt;
  for (const char c : token)
    if (!isTokenChar(c)) return std::nullopt;
  return token;
}

std::string httpsRedirectUrl(std::string_view hostHeader, std::string_view target, std::uint16_t httpsPort) {
  std::string_view name = hostHeader;
  bool hadPort = false;
  if (name.starts_with('[')) {  // [v6]:port
    const auto close = name.find(']');
    if (close != std::string_view::npos) {
      hadPort = close + 1 < name.size() && name[close + 1] == ':';
      name = name.substr(0, close + 1);
    }
  } else if (const auto colon = name.rfind(':'); colon != std::string_view::npos) {
    hadPort = true;
    name = name.substr(0, colon);
  }
  std::string url = "https://";
  url.append(name);
  if (hadPort && httpsPort != 443) url.append(":").append(std::to_string(httpsPort));
  url.append(target.empty() ? std::string_view("/") : target);
  return url;
}

}  // namespace proxyos::edge
