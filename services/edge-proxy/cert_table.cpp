#include "cert_table.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cctype>

namespace proxyos::edge {

namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

BioPtr memBio(std::string_view data) { return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size()))); }

// Never prompt for a passphrase: an encrypted key is simply an error.
int noPassword(char*, int, int, void*) { return -1; }

Error invalid(std::string message) {
  ERR_clear_error();
  return Error::make(ErrorKind::Invalid, "invalid_certificate", std::move(message));
}

}  // namespace

ServerCertificate::~ServerCertificate() {
  X509_free(leaf_);
  sk_X509_pop_free(chain_, X509_free);
  EVP_PKEY_free(key_);
}

Result<std::shared_ptr<const ServerCertificate>> ServerCertificate::load(const tls::KeyedCertificate& pem,
                                                                          std::string source) {
  // Owned from the start so every early return frees what was parsed.
  std::shared_ptr<ServerCertificate> cert(new ServerCertificate());
  cert->source_ = std::move(source);
  cert->chainPem_ = pem.certificatePem;

  auto bio = memBio(pem.certificatePem);
  if (!bio) return invalid("cannot read the certificate chain");
  cert->leaf_ = PEM_read_bio_X509(bio.get(), nullptr, noPassword, nullptr);
  if (!cert->leaf_) return invalid("the certificate chain holds no PEM certificate");
  cert->chain_ = sk_X509_new_null();
  if (!cert->chain_) return invalid("out of memory");
  for (;;) {
    X509* next = PEM_read_bio_X509(bio.get(), nullptr, noPassword, nullptr);
    if (!next) break;  // end of input (or trailing garbage, ignored like OpenSSL's own loaders)
    if (sk_X509_push(cert->chain_, next) <= 0) {
      X509_free(next);
      return invalid("out of memory");
    }
  }
  ERR_clear_error();

  auto keyBio = memBio(pem.keyPem);
  if (!keyBio) return invalid("cannot read the private key");
  cert->key_ = PEM_read_bio_PrivateKey(keyBio.get(), nullptr, noPassword, nullptr);
  if (!cert->key_) return invalid("the private key does not parse");
  if (X509_check_private_key(cert->leaf_, cert->key_) != 1)
    return invalid("the private key does not belong to the certificate");

  auto info = tls::inspectCertificate(pem.certificatePem);
  if (!info) return info.error();
  cert->info_ = std::move(info.value());
  return std::shared_ptr<const ServerCertificate>(std::move(cert));
}

bool ServerCertificate::installOn(SSL* ssl) const {
  // override = 1: replaces whatever the SSL_CTX default put on the connection.
  return SSL_use_cert_and_key(ssl, leaf_, key_, chain_, 1) == 1;
}

const ServerCertificate* CertTable::find(std::string_view serverName) const {
  std::string name(serverName);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!name.empty() && name.back() == '.') name.pop_back();
  if (name.empty()) return nullptr;

  if (auto it = byName_.find(name); it != byName_.end()) return it->second.get();

  // One-label wildcard: "*.b.test" covers "a.b.test" only — it needs a
  // non-empty first label and a parent that is itself a dotted name.
  const auto dot = name.find('.');
  if (dot == std::string::npos || dot == 0) return nullptr;
  const std::string_view parent = std::string_view(name).substr(dot + 1);
  if (parent.find('.') == std::string_view::npos) return nullptr;
  std::string wildcard = "*.";
  wildcard += parent;
  if (auto it = byName_.find(wildcard); it != byName_.end()) return it->second.get();
  return nullptr;
}

}  // namespace proxyos::edge
