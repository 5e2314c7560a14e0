#pragma once
// The server certificates an edge presents, chosen by SNI: an immutable
// table built off the hot path (by the CertManager) and swapped atomically,
// like the route table. The TLS handshake looks a name up here and installs
// the certificate on that connection (SSL_use_cert_and_key), so one SSL_CTX
// — and one set of session-ticket keys — serves every name.
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shared/core/error.h"
#include "shared/tls/pki.h"

namespace proxyos::edge {

/// One certificate ready for handshakes: the leaf, its chain and its key,
/// parsed once.
class ServerCertificate {
 public:
  /// Parses `chainPem` (leaf first) and `keyPem`; Error when either does not
  /// parse or the key is not the leaf's.
  static Result<std::shared_ptr<const ServerCertificate>> load(const tls::KeyedCertificate& pem, std::string source);
  ~ServerCertificate();
  ServerCertificate(const ServerCertificate&) = delete;
  ServerCertificate& operator=(const ServerCertificate&) = delete;

  /// Installs this certificate on a connection (from the SNI callback).
  bool installOn(SSL* ssl) const;

  const tls::CertificateInfo& info() const { return info_; }
  const std::string& source() const { return source_; }  // "internal" or "acme"
  const std::string& chainPem() const { return chainPem_; }

 private:
  ServerCertificate() = default;
  X509* leaf_ = nullptr;
  STACK_OF(X509)* chain_ = nullptr;  // intermediates, without the leaf
  EVP_PKEY* key_ = nullptr;
  tls::CertificateInfo info_;
  std::string source_;
  std::string chainPem_;
};

/// Names → certificates. Keys are lower-case host names or "*.suffix"
/// wildcards, exactly as routes spell their domains.
class CertTable {
 public:
  using Map = std::map<std::string, std::shared_ptr<const ServerCertificate>, std::less<>>;
  explicit CertTable(Map byName) : byName_(std::move(byName)) {}

  /// The certificate for an SNI name (any case, no trailing dot): the exact
  /// name, else the one-label wildcard "*.<parent>"; nullptr when neither.
  const ServerCertificate* find(std::string_view serverName) const;
  const Map& entries() const { return byName_; }

 private:
  Map byName_;
};

/// The current CertTable, read by handshakes on any thread.
class CertHolder {
 public:
  std::shared_ptr<const CertTable> current() const { return std::atomic_load(&table_); }
  void publish(std::shared_ptr<const CertTable> table) { std::atomic_store(&table_, std::move(table)); }

 private:
  std::shared_ptr<const CertTable> table_;
};

}  // namespace proxyos::edge
