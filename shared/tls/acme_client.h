#pragma once
// An ACME (RFC 8555) client on OpenSSL and Beast: account, order, HTTP-01,
// finalize, download. Synchronous and blocking — the edge runs it on a
// background thread, never on an I/O thread. Tested against Debian's pebble.
//
// What it does not do: DNS-01, TLS-ALPN-01, revocation, key rollover,
// external account binding. One order covers the names given; HTTP-01 means
// no wildcard names.
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/core/error.h"
#include "shared/tls/pki.h"

namespace proxyos::tls {

struct AcmeSettings {
  /// The directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory.
  std::string directoryUrl;
  /// PEM file of the CA that signs the ACME server's own HTTPS certificate
  /// (PROXYOS_ACME_CA_ROOT, e.g. pebble's minica); empty: the system store.
  std::string caRootFile;
  /// Contact (mailto:) for the account; empty: none.
  std::string email;
  /// Bound on each HTTP exchange with the ACME server.
  std::chrono::milliseconds requestTimeout{15000};
  /// How long to wait for an authorization or the order to become valid.
  std::chrono::milliseconds validationTimeout{90000};
  /// Poll interval while waiting (the server's Retry-After wins when larger).
  std::chrono::milliseconds pollInterval{500};
};

/// Publishes HTTP-01 key authorizations where the edge serves
/// /.well-known/acme-challenge/<token> (in ProxyOS: Redis, so whichever edge
/// the CA reaches answers).
class Http01Responder {
 public:
  virtual ~Http01Responder() = default;
  virtual Status present(const std::string& token, const std::string& keyAuthorization) = 0;
  virtual void cleanup(const std::string& token) = 0;
};

/// What the client did, for logs, /status and tests.
struct AcmeOrderResult {
  KeyedCertificate certificate;  // the chain as downloaded (leaf first) + the new key
  std::string orderUrl;
  std::string accountUrl;
};

class AcmeClient {
 public:
  AcmeClient(AcmeSettings settings, PrivateKey accountKey);

  /// Registers the account (newAccount, termsOfServiceAgreed; an existing
  /// account for the key is found the same way) and returns its URL (the
  /// JWS "kid"). Called by obtain() when needed.
  Result<std::string> ensureAccount();

  /// Orders a certificate for `dnsNames` with a fresh P-256 key: newOrder,
  /// for each authorization the http-01 challenge (responder.present,
  /// respond, poll until valid; responder.cleanup always), finalize with a
  /// CSR, poll the order, download the chain. A badNonce answer is retried
  /// with the new nonce (bounded). Error codes: "acme_unreachable" (network,
  /// TLS, timeouts), "acme_rejected" (a problem document: its type and detail
  /// in the message), "acme_invalid" (an authorization or the order went
  /// invalid: the challenge error in the message), "acme_protocol" (an
  /// answer that breaks RFC 8555).
  Result<AcmeOrderResult> obtain(const std::vector<std::string>& dnsNames, Http01Responder& responder);

  /// RFC 8555 §8.1: token "." thumbprint of the account key.
  std::string keyAuthorization(std::string_view token) const;

 private:
  struct State;
  AcmeSettings settings_;
  PrivateKey accountKey_;
  std::string accountUrl_;
  std::string nonce_;
};

}  // namespace proxyos::tls
