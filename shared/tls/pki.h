#pragma once
// Keys and certificates for the edge's TLS, on OpenSSL 3: EC P-256 keys, the
// internal root CA and the leaves it issues, CSRs and ES256 signatures for
// ACME, certificate inspection, chain verification, and sealing a private key
// under PROXYOS_SECRET for storage in the `proxyos-certs` bucket.
//
// Everything here is pure (no I/O, no clock of its own: callers pass `now`),
// so it is unit tested without a network.
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shared/core/error.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace proxyos::tls {

using TimePoint = std::chrono::system_clock::time_point;

/// An EC P-256 private key (owns its EVP_PKEY). Move-only.
class PrivateKey {
 public:
  PrivateKey() = default;
  static Result<PrivateKey> generateP256();
  /// PKCS#8 or SEC1 ("EC PRIVATE KEY") PEM; any other key type is an error.
  static Result<PrivateKey> fromPem(std::string_view pem);

  bool empty() const { return !key_; }
  /// Unencrypted PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----").
  std::string toPem() const;
  /// The public key as a JWK with exactly the members RFC 7638 hashes, in
  /// its order and without whitespace: {"crv":"P-256","kty":"EC","x":"…","y":"…"}.
  std::string publicJwk() const;
  /// base64url(SHA-256(publicJwk())): the RFC 7638 thumbprint ACME's key
  /// authorizations use.
  std::string jwkThumbprint() const;
  /// ES256 over `data`: the 64-byte raw r‖s form JWS wants (not DER).
  Result<std::string> signEs256(std::string_view data) const;

  EVP_PKEY* get() const { return key_.get(); }

 private:
  struct Free {
    void operator()(EVP_PKEY* key) const;
  };
  explicit PrivateKey(EVP_PKEY* key) : key_(key) {}
  std::unique_ptr<EVP_PKEY, Free> key_;
};

/// A certificate (or chain: leaf first) and its private key, both PEM.
struct KeyedCertificate {
  std::string certificatePem;
  std::string keyPem;
};

/// What the edge shows about a certificate in /status.
struct CertificateInfo {
  std::vector<std::string> dnsNames;  // subjectAltName DNS entries, as written
  std::vector<std::string> ipAddresses;  // subjectAltName IP entries, textual
  std::string subjectCommonName;
  std::string issuerCommonName;
  std::string serialHex;  // upper-case hex, no separators
  TimePoint notBefore;
  TimePoint notAfter;
  bool isCa = false;  // basicConstraints CA:TRUE
};

/// The first certificate of a PEM chain. Error (code "invalid_certificate")
/// when there is none or it does not parse.
Result<CertificateInfo> inspectCertificate(std::string_view pem);

/// Each "-----BEGIN CERTIFICATE-----" block of `pem`, in order, as its own
/// PEM string. Error when there is none or one does not parse.
Result<std::vector<std::string>> splitPemChain(std::string_view pem);

/// A self-signed root CA: a new P-256 key, subject and issuer CN
/// `commonName` (O "ProxyOS"), basicConstraints CA:TRUE critical, keyUsage
/// keyCertSign and cRLSign critical, subjectKeyIdentifier, a random 128-bit
/// serial, valid from now - 1 h to now + validity. Signed with SHA-256.
Result<KeyedCertificate> createRootCa(std::string_view commonName, std::chrono::seconds validity, TimePoint now);

/// A server certificate for `names` signed by `ca`: a new P-256 key; each
/// name is a SAN — an IPv4/IPv6 literal as an IP entry, anything else
/// (including "*.example.com") as a DNS entry; subject CN the first name
/// (when it is at most 64 bytes); basicConstraints CA:FALSE, keyUsage
/// digitalSignature critical, extendedKeyUsage serverAuth,
/// authorityKeyIdentifier; random serial; valid from now - 1 h to
/// now + validity, but never past the CA's own notAfter. Error when `names`
/// is empty or `ca` does not parse or its key does not match its certificate.
Result<KeyedCertificate> issueLeaf(const KeyedCertificate& ca, const std::vector<std::string>& names,
                                   std::chrono::seconds validity, TimePoint now);

/// A PKCS#10 CSR in DER for `dnsNames` (all as SAN DNS entries, CN the first
/// when ≤ 64 bytes), signed by `key` with SHA-256: what ACME's finalize wants
/// (base64url of these bytes).
Result<std::string> makeCsrDer(const PrivateKey& key, const std::vector<std::string>& dnsNames);

/// Whether `chainPem` (leaf first, then intermediates) verifies against the
/// single trusted root `rootPem` at time `at` for host `hostName` (DNS name
/// or IP literal; wildcards as RFC 6125 says). Error code
/// "verification_failed" with OpenSSL's reason in the message otherwise.
Status verifyChain(std::string_view chainPem, std::string_view rootPem, std::string_view hostName, TimePoint at);

/// Whether `keyPem` is the private key of the first certificate in `certificatePem`.
bool keyMatchesCertificate(std::string_view certificatePem, std::string_view keyPem);

/// Seals `plaintext` (a private key PEM) for storage: AES-256-GCM under a
/// key derived from `secret` with HKDF-SHA256 (salt "proxyos-certs",
/// info "proxyos-certs key v1"), a fresh 12-byte nonce, `aad` authenticated.
/// Output: "v1." + base64url(nonce ‖ ciphertext ‖ 16-byte tag). Error
/// (code "seal_failed") only when OpenSSL cannot encrypt or draw randomness.
Result<std::string> sealWithSecret(std::string_view plaintext, std::string_view secret, std::string_view aad);

/// The inverse of sealWithSecret. Error (code "unseal_failed") on a wrong
/// secret, a wrong `aad`, a tampered or malformed token — never garbage.
Result<std::string> openWithSecret(std::string_view sealed, std::string_view secret, std::string_view aad);

}  // namespace proxyos::tls
