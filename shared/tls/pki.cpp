#include "shared/tls/pki.h"

#include <arpa/inet.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <climits>
#include <cstring>
#include <ctime>
#include <exception>
#include <optional>
#include <utility>

#include "shared/crypto/base64url.h"
#include "shared/crypto/openssl_error.h"
#include "shared/crypto/random.h"
#include "shared/crypto/sha256.h"

namespace proxyos::tls {

namespace {

// ---- RAII for OpenSSL objects ----

template <auto Fn>
struct Deleter {
  template <class T>
  void operator()(T* p) const {
    Fn(p);
  }
};

using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, Deleter<EVP_CIPHER_CTX_free>>;
using KdfPtr = std::unique_ptr<EVP_KDF, Deleter<EVP_KDF_free>>;
using KdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, Deleter<EVP_KDF_CTX_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, Deleter<X509_REQ_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME_free>>;
using X509ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, Deleter<ASN1_TIME_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, Deleter<GENERAL_NAME_free>>;
using Ia5StringPtr = std::unique_ptr<ASN1_IA5STRING, Deleter<ASN1_IA5STRING_free>>;
using OctetStringPtr = std::unique_ptr<ASN1_OCTET_STRING, Deleter<ASN1_OCTET_STRING_free>>;
using BasicConstraintsPtr = std::unique_ptr<BASIC_CONSTRAINTS, Deleter<BASIC_CONSTRAINTS_free>>;

void freeX509Stack(STACK_OF(X509) * stack) { sk_X509_pop_free(stack, X509_free); }
void freeExtStack(STACK_OF(X509_EXTENSION) * stack) { sk_X509_EXTENSION_pop_free(stack, X509_EXTENSION_free); }
using X509StackPtr = std::unique_ptr<STACK_OF(X509), Deleter<freeX509Stack>>;
using ExtStackPtr = std::unique_ptr<STACK_OF(X509_EXTENSION), Deleter<freeExtStack>>;

void freeOpenSslString(char* s) { OPENSSL_free(s); }
void freeOpenSslBytes(unsigned char* s) { OPENSSL_free(s); }
using OsslStringPtr = std::unique_ptr<char, Deleter<freeOpenSslString>>;
using OsslBytesPtr = std::unique_ptr<unsigned char, Deleter<freeOpenSslBytes>>;

constexpr size_t kP256CoordinateBytes = 32;
constexpr size_t kSerialBytes = 16;
constexpr size_t kMaxCommonNameBytes = 64;
constexpr long kBackdateSeconds = 3600;

constexpr std::string_view kSealPrefix = "v1.";
constexpr std::string_view kSealSalt = "proxyos-certs";
constexpr std::string_view kSealInfo = "proxyos-certs key v1";
constexpr size_t kSealKeyBytes = 32;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

constexpr std::string_view kCertBegin = "-----BEGIN CERTIFICATE-----";
constexpr std::string_view kCertEnd = "-----END CERTIFICATE-----";

// ---- errors ----

Error internalError(std::string_view what) {
  return Error::make(ErrorKind::Internal, "tls_failed", std::string(what) + ": " + crypto::openSslError());
}

Error invalidError(std::string code, std::string message) {
  ERR_clear_error();
  return Error::make(ErrorKind::Invalid, std::move(code), std::move(message));
}

// ---- parsing helpers ----

/// Never prompts for a pass phrase: encrypted keys simply fail to load.
int noPassword(char*, int, int, void*) { return -1; }

BioPtr memBio(std::string_view data) {
  if (data.size() > static_cast<size_t>(INT_MAX)) return nullptr;
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string bioContents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<size_t>(len));
}

/// Any private key from PEM (PKCS#8 or traditional), without a pass phrase.
PkeyPtr readAnyPrivateKey(std::string_view pem) {
  BioPtr bio = memBio(pem);
  if (!bio) return nullptr;
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassword, nullptr));
  ERR_clear_error();
  return key;
}

bool isP256(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC") != 1) return false;
  char group[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1) {
    ERR_clear_error();
    return false;
  }
  const std::string_view name(group, len);
  return name == "prime256v1" || name == "P-256" || name == "secp256r1";
}

/// Each "-----BEGIN CERTIFICATE-----" block of `pem`, parsed, in order.
Result<std::vector<X509Ptr>> readCertificates(std::string_view pem) {
  std::vector<X509Ptr> certs;
  size_t pos = 0;
  while (true) {
    const size_t begin = pem.find(kCertBegin, pos);
    if (begin == std::string_view::npos) break;
    const size_t end = pem.find(kCertEnd, begin + kCertBegin.size());
    if (end == std::string_view::npos) {
      return invalidError("invalid_certificate", "certificate PEM block without an END line");
    }
    pos = end + kCertEnd.size();
    std::string block(pem.substr(begin, pos - begin));
    block += '\n';
    BioPtr bio = memBio(block);
    if (!bio) return internalError("BIO_new_mem_buf");
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, noPassword, nullptr));
    if (!cert) {
      return invalidError("invalid_certificate",
                          "certificate " + std::to_string(certs.size() + 1) + " of the PEM does not parse");
    }
    certs.push_back(std::move(cert));
  }
  if (certs.empty()) return invalidError("invalid_certificate", "no certificate in the PEM");
  return certs;
}

Result<X509Ptr> readFirstCertificate(std::string_view pem) {
  auto certs = readCertificates(pem);
  if (!certs.ok()) return certs.error();
  return std::move(certs.value().front());
}

Result<std::string> certificateToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return internalError("PEM_write_bio_X509");
  return bioContents(bio.get());
}

std::optional<std::string> privateKeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  std::string pem = bioContents(bio.get());
  // The BIO's buffer held the key: wipe it before it is freed.
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  if (len > 0 && data != nullptr) OPENSSL_cleanse(data, static_cast<size_t>(len));
  return pem;
}

/// The 4- or 16-byte binary form of an IPv4/IPv6 literal, strictly parsed
/// (unlike a2i_IPADDRESS, "1.2.3.4.nip.io" is not an IP address).
std::optional<std::string> parseIpLiteral(std::string_view text) {
  const std::string s(text);
  unsigned char buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) return std::string(reinterpret_cast<char*>(buf), 4);
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) return std::string(reinterpret_cast<char*>(buf), 16);
  return std::nullopt;
}

std::string ipToText(const ASN1_OCTET_STRING* ip) {
  const unsigned char* data = ASN1_STRING_get0_data(ip);
  const int len = ASN1_STRING_length(ip);
  char buf[INET6_ADDRSTRLEN] = {0};
  if (len == 4 && inet_ntop(AF_INET, data, buf, sizeof buf) != nullptr) return buf;
  if (len == 16 && inet_ntop(AF_INET6, data, buf, sizeof buf) != nullptr) return buf;
  // Not an address (e.g. a name-constraint style address/mask): hex it.
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (int i = 0; i < len; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 0x0f];
  }
  return out;
}

Result<Unit> checkNames(const std::vector<std::string>& names) {
  if (names.empty()) return invalidError("invalid_names", "at least one name is required");
  for (const auto& name : names) {
    if (name.empty()) return invalidError("invalid_names", "a name is empty");
    if (name.find('\0') != std::string::npos) return invalidError("invalid_names", "a name contains a NUL byte");
  }
  return okStatus();
}

/// subjectAltName entries for `names`: IP literals as iPAddress unless
/// `allDns`, everything else as dNSName.
Result<GeneralNamesPtr> makeGeneralNames(const std::vector<std::string>& names, bool allDns) {
  GeneralNamesPtr gens(GENERAL_NAMES_new());
  if (!gens) return internalError("GENERAL_NAMES_new");
  for (const auto& name : names) {
    GeneralNamePtr gen(GENERAL_NAME_new());
    if (!gen) return internalError("GENERAL_NAME_new");
    const auto ip = allDns ? std::nullopt : parseIpLiteral(name);
    if (ip) {
      OctetStringPtr octets(ASN1_OCTET_STRING_new());
      if (!octets || ASN1_OCTET_STRING_set(octets.get(), reinterpret_cast<const unsigned char*>(ip->data()),
                                           static_cast<int>(ip->size())) != 1) {
        return internalError("ASN1_OCTET_STRING_set");
      }
      GENERAL_NAME_set0_value(gen.get(), GEN_IPADD, octets.release());
    } else {
      Ia5StringPtr ia5(ASN1_IA5STRING_new());
      if (!ia5 || ASN1_STRING_set(ia5.get(), name.data(), static_cast<int>(name.size())) != 1) {
        return internalError("ASN1_STRING_set");
      }
      GENERAL_NAME_set0_value(gen.get(), GEN_DNS, ia5.release());
    }
    if (sk_GENERAL_NAME_push(gens.get(), gen.get()) <= 0) return internalError("sk_GENERAL_NAME_push");
    gen.release();
  }
  return gens;
}

Status addNameEntry(X509_NAME* name, const char* field, std::string_view value) {
  if (X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.data()),
                                 static_cast<int>(value.size()), -1, 0) != 1) {
    return invalidError("invalid_name", std::string("cannot use this value as the subject ") + field);
  }
  return okStatus();
}

Status addConfExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509ExtPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  if (!ext) return internalError("X509V3_EXT_conf_nid");
  if (X509_add_ext(cert, ext.get(), -1) != 1) return internalError("X509_add_ext");
  return okStatus();
}

Status setRandomSerial(X509* cert) {
  std::string bytes;
  try {
    bytes = crypto::randomBytes(kSerialBytes);
  } catch (const std::exception&) {
    return Error::make(ErrorKind::Internal, "tls_failed", "no randomness for the serial number");
  }
  bytes[0] = static_cast<char>(static_cast<unsigned char>(bytes[0]) & 0x7f);
  // A zero serial is not allowed; with 127 random bits that never happens, but be exact.
  if (bytes.find_first_not_of('\0') == std::string::npos) bytes[kSerialBytes - 1] = 1;
  BnPtr bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()), nullptr));
  if (!bn) return internalError("BN_bin2bn");
  Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!serial || X509_set_serialNumber(cert, serial.get()) != 1) return internalError("X509_set_serialNumber");
  return okStatus();
}

/// notBefore = now - 1 h, notAfter = now + validity.
Status setValidity(X509* cert, std::chrono::seconds validity, TimePoint now) {
  if (validity.count() <= 0) return invalidError("invalid_validity", "validity must be positive");
  time_t t = std::chrono::system_clock::to_time_t(now);
  if (ASN1_TIME_set(X509_getm_notBefore(cert), t - kBackdateSeconds) == nullptr) {
    return internalError("ASN1_TIME_set(notBefore)");
  }
  if (X509_time_adj_ex(X509_getm_notAfter(cert), 0, static_cast<long>(validity.count()), &t) == nullptr) {
    return internalError("X509_time_adj_ex(notAfter)");
  }
  return okStatus();
}

std::optional<TimePoint> toTimePoint(const ASN1_TIME* t) {
  if (t == nullptr) return std::nullopt;
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string commonNameOf(const X509_NAME* name) {
  if (name == nullptr) return {};
  const int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return {};
  const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, idx);
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(entry);
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) {
    ERR_clear_error();
    return {};
  }
  OsslBytesPtr owned(utf8);
  return std::string(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
}

bool keysEqual(EVP_PKEY* a, EVP_PKEY* b) {
  const bool eq = a != nullptr && b != nullptr && EVP_PKEY_eq(a, b) == 1;
  ERR_clear_error();
  return eq;
}

}  // namespace

// ---- PrivateKey ----

void PrivateKey::Free::operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }

Result<PrivateKey> PrivateKey::generateP256() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) return internalError("EC P-256 key generation");
  return PrivateKey(key);
}

Result<PrivateKey> PrivateKey::fromPem(std::string_view pem) {
  PkeyPtr key = readAnyPrivateKey(pem);
  if (!key) return invalidError("invalid_key", "the private key PEM does not parse");
  if (!isP256(key.get())) return invalidError("invalid_key", "the private key is not an EC P-256 key");
  return PrivateKey(key.release());
}

std::string PrivateKey::toPem() const {
  if (!key_) return {};
  return privateKeyToPem(key_.get()).value_or(std::string());
}

std::string PrivateKey::publicJwk() const {
  if (!key_) return {};
  BIGNUM* xRaw = nullptr;
  BIGNUM* yRaw = nullptr;
  const bool gotX = EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_EC_PUB_X, &xRaw) == 1;
  BnPtr x(xRaw);
  const bool gotY = EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_EC_PUB_Y, &yRaw) == 1;
  BnPtr y(yRaw);
  if (!gotX || !gotY) {
    ERR_clear_error();
    return {};
  }
  unsigned char xb[kP256CoordinateBytes];
  unsigned char yb[kP256CoordinateBytes];
  if (BN_bn2binpad(x.get(), xb, sizeof xb) != static_cast<int>(sizeof xb) ||
      BN_bn2binpad(y.get(), yb, sizeof yb) != static_cast<int>(sizeof yb)) {
    ERR_clear_error();
    return {};
  }
  const std::string xs = crypto::base64UrlEncode(std::string_view(reinterpret_cast<char*>(xb), sizeof xb));
  const std::string ys = crypto::base64UrlEncode(std::string_view(reinterpret_cast<char*>(yb), sizeof yb));
  return R"({"crv":"P-256","kty":"EC","x":")" + xs + R"(","y":")" + ys + R"("})";
}

std::string PrivateKey::jwkThumbprint() const {
  const std::string jwk = publicJwk();
  if (jwk.empty()) return {};
  try {
    return crypto::base64UrlEncode(crypto::sha256(jwk));
  } catch (const std::exception&) {
    return {};
  }
}

Result<std::string> PrivateKey::signEs256(std::string_view data) const {
  if (!key_) return invalidError("invalid_key", "no private key");
  if (!isP256(key_.get())) return invalidError("invalid_key", "ES256 needs an EC P-256 key");
  MdCtxPtr md(EVP_MD_CTX_new());
  if (!md || EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1) {
    return internalError("EVP_DigestSignInit");
  }
  size_t derLen = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  if (EVP_DigestSign(md.get(), nullptr, &derLen, in, data.size()) != 1) return internalError("EVP_DigestSign");
  std::string der(derLen, '\0');
  if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(der.data()), &derLen, in, data.size()) != 1) {
    return internalError("EVP_DigestSign");
  }
  der.resize(derLen);
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return internalError("d2i_ECDSA_SIG");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(2 * kP256CoordinateBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, kP256CoordinateBytes) != static_cast<int>(kP256CoordinateBytes) ||
      BN_bn2binpad(s, out + kP256CoordinateBytes, kP256CoordinateBytes) != static_cast<int>(kP256CoordinateBytes)) {
    return internalError("BN_bn2binpad");
  }
  return raw;
}

// ---- inspection ----

Result<CertificateInfo> inspectCertificate(std::string_view pem) {
  auto first = readFirstCertificate(pem);
  if (!first.ok()) return first.error();
  X509* cert = first.value().get();
  CertificateInfo info;

  GeneralNamesPtr gens(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (gens) {
    for (int i = 0; i < sk_GENERAL_NAME_num(gens.get()); ++i) {
      const GENERAL_NAME* gen = sk_GENERAL_NAME_value(gens.get(), i);
      if (gen->type == GEN_DNS) {
        const ASN1_IA5STRING* dns = gen->d.dNSName;
        info.dnsNames.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                   static_cast<size_t>(ASN1_STRING_length(dns)));
      } else if (gen->type == GEN_IPADD) {
        info.ipAddresses.push_back(ipToText(gen->d.iPAddress));
      }
    }
  }

  info.subjectCommonName = commonNameOf(X509_get_subject_name(cert));
  info.issuerCommonName = commonNameOf(X509_get_issuer_name(cert));

  BnPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!serial) return internalError("ASN1_INTEGER_to_BN");
  OsslStringPtr hex(BN_bn2hex(serial.get()));
  if (!hex) return internalError("BN_bn2hex");
  info.serialHex = hex.get();

  const auto notBefore = toTimePoint(X509_get0_notBefore(cert));
  const auto notAfter = toTimePoint(X509_get0_notAfter(cert));
  if (!notBefore || !notAfter) return invalidError("invalid_certificate", "the certificate's validity does not parse");
  info.notBefore = *notBefore;
  info.notAfter = *notAfter;

  int critical = 0;
  BasicConstraintsPtr bc(
      static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(cert, NID_basic_constraints, &critical, nullptr)));
  info.isCa = bc && bc->ca != 0;
  ERR_clear_error();
  return info;
}

Result<std::vector<std::string>> splitPemChain(std::string_view pem) {
  auto certs = readCertificates(pem);
  if (!certs.ok()) return certs.error();
  std::vector<std::string> out;
  out.reserve(certs.value().size());
  for (const auto& cert : certs.value()) {
    auto block = certificateToPem(cert.get());
    if (!block.ok()) return block.error();
    out.push_back(std::move(block).value());
  }
  return out;
}

// ---- issuing ----

namespace {

/// A new P-256 key and an X.509 v3 certificate with a random serial, valid
/// from now - 1 h to now + validity; subject, issuer, key and extensions
/// are the caller's.
struct FreshCertificate {
  PrivateKey key;
  X509Ptr cert;
};

Result<FreshCertificate> newCertificate(std::chrono::seconds validity, TimePoint now) {
  auto key = PrivateKey::generateP256();
  if (!key.ok()) return key.error();
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) return internalError("X509_new");
  if (auto s = setRandomSerial(cert.get()); !s.ok()) return s.error();
  if (auto s = setValidity(cert.get(), validity, now); !s.ok()) return s.error();
  return FreshCertificate{std::move(key.value()), std::move(cert)};
}

}  // namespace

Result<KeyedCertificate> createRootCa(std::string_view commonName, std::chrono::seconds validity, TimePoint now) {
  if (commonName.empty()) return invalidError("invalid_name", "the CA common name is empty");
  auto fresh = newCertificate(validity, now);
  if (!fresh.ok()) return fresh.error();
  auto& [key, cert] = fresh.value();

  X509NamePtr name(X509_NAME_new());
  if (!name) return internalError("X509_NAME_new");
  if (auto s = addNameEntry(name.get(), "O", "ProxyOS"); !s.ok()) return s.error();
  if (auto s = addNameEntry(name.get(), "CN", commonName); !s.ok()) return s.error();
  if (X509_set_subject_name(cert.get(), name.get()) != 1 || X509_set_issuer_name(cert.get(), name.get()) != 1) {
    return internalError("X509_set_subject_name");
  }
  if (X509_set_pubkey(cert.get(), key.get()) != 1) return internalError("X509_set_pubkey");

  X509V3_CTX v3{};
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  if (auto s = addConfExtension(cert.get(), &v3, NID_basic_constraints, "critical,CA:TRUE"); !s.ok()) return s.error();
  if (auto s = addConfExtension(cert.get(), &v3, NID_key_usage, "critical,keyCertSign,cRLSign"); !s.ok()) {
    return s.error();
  }
  if (auto s = addConfExtension(cert.get(), &v3, NID_subject_key_identifier, "hash"); !s.ok()) return s.error();

  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) return internalError("X509_sign");

  auto certPem = certificateToPem(cert.get());
  if (!certPem.ok()) return certPem.error();
  std::string keyPem = key.toPem();
  if (keyPem.empty()) return internalError("PEM_write_bio_PrivateKey");
  return KeyedCertificate{std::move(certPem).value(), std::move(keyPem)};
}

Result<KeyedCertificate> issueLeaf(const KeyedCertificate& ca, const std::vector<std::string>& names,
                                   std::chrono::seconds validity, TimePoint now) {
  if (auto s = checkNames(names); !s.ok()) return s.error();
  auto caCert = readFirstCertificate(ca.certificatePem);
  if (!caCert.ok()) return invalidError("invalid_ca", "the CA certificate does not parse");
  PkeyPtr caKey = readAnyPrivateKey(ca.keyPem);
  if (!caKey) return invalidError("invalid_ca", "the CA private key does not parse");
  if (!keysEqual(X509_get0_pubkey(caCert.value().get()), caKey.get())) {
    return invalidError("invalid_ca", "the CA private key does not match the CA certificate");
  }
  X509* issuer = caCert.value().get();

  auto fresh = newCertificate(validity, now);
  if (!fresh.ok()) return fresh.error();
  auto& [key, cert] = fresh.value();
  const ASN1_TIME* caNotAfter = X509_get0_notAfter(issuer);
  if (ASN1_TIME_compare(X509_get0_notAfter(cert.get()), caNotAfter) > 0) {
    if (X509_set1_notAfter(cert.get(), caNotAfter) != 1) return internalError("X509_set1_notAfter");
  }
  if (ASN1_TIME_compare(X509_get0_notAfter(cert.get()), X509_get0_notBefore(cert.get())) <= 0) {
    return invalidError("ca_expired", "the CA certificate expires before the leaf would become valid");
  }

  X509NamePtr subject(X509_NAME_new());
  if (!subject) return internalError("X509_NAME_new");
  const bool hasCn = names.front().size() <= kMaxCommonNameBytes;
  if (hasCn) {
    if (auto s = addNameEntry(subject.get(), "CN", names.front()); !s.ok()) return s.error();
  }
  if (X509_set_subject_name(cert.get(), subject.get()) != 1 ||
      X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer)) != 1) {
    return internalError("X509_set_subject_name");
  }
  if (X509_set_pubkey(cert.get(), key.get()) != 1) return internalError("X509_set_pubkey");

  auto gens = makeGeneralNames(names, /*allDns=*/false);
  if (!gens.ok()) return gens.error();
  // RFC 5280 §4.2.1.6: with an empty subject the SAN extension is critical.
  if (X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, gens.value().get(), hasCn ? 0 : 1, X509V3_ADD_DEFAULT) != 1) {
    return internalError("X509_add1_ext_i2d(subjectAltName)");
  }

  X509V3_CTX v3{};
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer, cert.get(), nullptr, nullptr, 0);
  if (auto s = addConfExtension(cert.get(), &v3, NID_basic_constraints, "CA:FALSE"); !s.ok()) return s.error();
  if (auto s = addConfExtension(cert.get(), &v3, NID_key_usage, "critical,digitalSignature"); !s.ok()) {
    return s.error();
  }
  if (auto s = addConfExtension(cert.get(), &v3, NID_ext_key_usage, "serverAuth"); !s.ok()) return s.error();
  if (auto s = addConfExtension(cert.get(), &v3, NID_authority_key_identifier, "keyid:always"); !s.ok()) {
    return s.error();
  }

  if (X509_sign(cert.get(), caKey.get(), EVP_sha256()) <= 0) return internalError("X509_sign");

  auto certPem = certificateToPem(cert.get());
  if (!certPem.ok()) return certPem.error();
  std::string keyPem = key.toPem();
  if (keyPem.empty()) return internalError("PEM_write_bio_PrivateKey");
  return KeyedCertificate{std::move(certPem).value(), std::move(keyPem)};
}

Result<std::string> makeCsrDer(const PrivateKey& key, const std::vector<std::string>& dnsNames) {
  if (key.empty()) return invalidError("invalid_key", "no private key");
  if (auto s = checkNames(dnsNames); !s.ok()) return s.error();

  X509ReqPtr req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), 0) != 1) return internalError("X509_REQ_new");
  X509NamePtr subject(X509_NAME_new());
  if (!subject) return internalError("X509_NAME_new");
  const bool hasCn = dnsNames.front().size() <= kMaxCommonNameBytes;
  if (hasCn) {
    if (auto s = addNameEntry(subject.get(), "CN", dnsNames.front()); !s.ok()) return s.error();
  }
  if (X509_REQ_set_subject_name(req.get(), subject.get()) != 1) return internalError("X509_REQ_set_subject_name");
  if (X509_REQ_set_pubkey(req.get(), key.get()) != 1) return internalError("X509_REQ_set_pubkey");

  auto gens = makeGeneralNames(dnsNames, /*allDns=*/true);
  if (!gens.ok()) return gens.error();
  X509ExtPtr san(X509V3_EXT_i2d(NID_subject_alt_name, hasCn ? 0 : 1, gens.value().get()));
  if (!san) return internalError("X509V3_EXT_i2d(subjectAltName)");
  ExtStackPtr exts(sk_X509_EXTENSION_new_null());
  if (!exts || sk_X509_EXTENSION_push(exts.get(), san.get()) <= 0) return internalError("sk_X509_EXTENSION_push");
  san.release();
  if (X509_REQ_add_extensions(req.get(), exts.get()) != 1) return internalError("X509_REQ_add_extensions");

  if (X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) return internalError("X509_REQ_sign");

  unsigned char* der = nullptr;
  const int len = i2d_X509_REQ(req.get(), &der);
  if (len <= 0 || der == nullptr) return internalError("i2d_X509_REQ");
  OsslBytesPtr owned(der);
  return std::string(reinterpret_cast<char*>(der), static_cast<size_t>(len));
}

// ---- verification ----

Status verifyChain(std::string_view chainPem, std::string_view rootPem, std::string_view hostName, TimePoint at) {
  auto fail = [](std::string message) {
    ERR_clear_error();
    return Error::make(ErrorKind::Invalid, "verification_failed", std::move(message));
  };
  if (hostName.empty()) return fail("no host name to verify against");
  if (hostName.find('\0') != std::string_view::npos) return fail("the host name contains a NUL byte");

  auto chain = readCertificates(chainPem);
  if (!chain.ok()) return fail("chain: " + chain.error().message);
  auto root = readFirstCertificate(rootPem);
  if (!root.ok()) return fail("root: " + root.error().message);

  X509StorePtr store(X509_STORE_new());
  if (!store || X509_STORE_add_cert(store.get(), root.value().get()) != 1) return internalError("X509_STORE_add_cert");

  X509StackPtr untrusted(sk_X509_new_null());
  if (!untrusted) return internalError("sk_X509_new_null");
  for (size_t i = 1; i < chain.value().size(); ++i) {
    X509* c = chain.value()[i].get();
    if (X509_up_ref(c) != 1) return internalError("X509_up_ref");
    if (sk_X509_push(untrusted.get(), c) <= 0) {
      X509_free(c);
      return internalError("sk_X509_push");
    }
  }

  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), chain.value().front().get(), untrusted.get()) != 1) {
    return internalError("X509_STORE_CTX_init");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, std::chrono::system_clock::to_time_t(at));
  if (X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER) != 1) {
    return internalError("X509_VERIFY_PARAM_set_purpose");
  }
  const std::string host(hostName);
  if (parseIpLiteral(host)) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) return fail("invalid IP address");
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (X509_VERIFY_PARAM_set1_host(param, host.data(), host.size()) != 1) return fail("invalid host name");
  }

  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    return fail(X509_verify_cert_error_string(err));
  }
  ERR_clear_error();
  return okStatus();
}

bool keyMatchesCertificate(std::string_view certificatePem, std::string_view keyPem) {
  auto cert = readFirstCertificate(certificatePem);
  if (!cert.ok()) return false;
  PkeyPtr key = readAnyPrivateKey(keyPem);
  if (!key) return false;
  return keysEqual(X509_get0_pubkey(cert.value().get()), key.get());
}

// ---- sealing ----

namespace {

/// HKDF-SHA256(secret, salt "proxyos-certs", info "proxyos-certs key v1") → 32 bytes.
bool deriveSealKey(std::string_view secret, unsigned char out[kSealKeyBytes]) {
  KdfPtr kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) return false;
  KdfCtxPtr kctx(EVP_KDF_CTX_new(kdf.get()));
  if (!kctx) return false;
  char digest[] = "SHA256";
  // HKDF rejects an empty key; a 1-byte buffer with length 0 keeps the pointer valid.
  const char empty = 0;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<char*>(secret.empty() ? &empty : secret.data()),
                                        secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(kSealSalt.data()), kSealSalt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(kSealInfo.data()), kSealInfo.size()),
      OSSL_PARAM_construct_end(),
  };
  return EVP_KDF_derive(kctx.get(), out, kSealKeyBytes, params) == 1;
}

Error sealFailed() {
  return Error::make(ErrorKind::Internal, "seal_failed", "cannot encrypt the private key (OpenSSL failure)");
}

struct SealKey {
  unsigned char bytes[kSealKeyBytes] = {0};
  ~SealKey() { OPENSSL_cleanse(bytes, sizeof bytes); }
};

}  // namespace

Result<std::string> sealWithSecret(std::string_view plaintext, std::string_view secret, std::string_view aad) {
  if (plaintext.size() > static_cast<size_t>(INT_MAX) || aad.size() > static_cast<size_t>(INT_MAX)) return sealFailed();
  SealKey key;
  if (!deriveSealKey(secret, key.bytes)) {
    ERR_clear_error();
    return sealFailed();
  }
  std::string nonce;
  try {
    nonce = crypto::randomBytes(kNonceBytes);
  } catch (const std::exception&) {
    return sealFailed();
  }

  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  const auto* iv = reinterpret_cast<const unsigned char*>(nonce.data());
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceBytes), nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.bytes, iv) != 1) {
    ERR_clear_error();
    return sealFailed();
  }
  int len = 0;
  if (!aad.empty() && EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                                        static_cast<int>(aad.size())) != 1) {
    ERR_clear_error();
    return sealFailed();
  }
  std::string out = nonce;
  out.resize(kNonceBytes + plaintext.size() + kTagBytes);
  auto* ct = reinterpret_cast<unsigned char*>(out.data()) + kNonceBytes;
  int ctLen = 0;
  if (!plaintext.empty() && EVP_EncryptUpdate(ctx.get(), ct, &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
                                              static_cast<int>(plaintext.size())) != 1) {
    ERR_clear_error();
    return sealFailed();
  }
  ctLen += plaintext.empty() ? 0 : len;
  if (EVP_EncryptFinal_ex(ctx.get(), ct + ctLen, &len) != 1) {
    ERR_clear_error();
    return sealFailed();
  }
  ctLen += len;
  if (static_cast<size_t>(ctLen) != plaintext.size() ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes), ct + ctLen) != 1) {
    ERR_clear_error();
    return sealFailed();
  }
  return std::string(kSealPrefix) + crypto::base64UrlEncode(out);
}

Result<std::string> openWithSecret(std::string_view sealed, std::string_view secret, std::string_view aad) {
  auto fail = [](const char* message) {
    ERR_clear_error();
    return Error::make(ErrorKind::Internal, "unseal_failed", message);
  };
  if (sealed.substr(0, kSealPrefix.size()) != kSealPrefix) return fail("not a v1 sealed value");
  const auto raw = crypto::base64UrlDecode(sealed.substr(kSealPrefix.size()));
  if (!raw) return fail("the sealed value is not base64url");
  if (raw->size() < kNonceBytes + kTagBytes) return fail("the sealed value is too short");
  if (raw->size() > static_cast<size_t>(INT_MAX) || aad.size() > static_cast<size_t>(INT_MAX)) {
    return fail("the sealed value is too large");
  }
  const size_t ctSize = raw->size() - kNonceBytes - kTagBytes;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw->data());

  SealKey key;
  if (!deriveSealKey(secret, key.bytes)) return fail("key derivation failed");

  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceBytes), nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.bytes, bytes) != 1) {
    return fail("cipher setup failed");
  }
  int len = 0;
  if (!aad.empty() && EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                                        static_cast<int>(aad.size())) != 1) {
    return fail("cipher failed");
  }
  std::string plain(ctSize, '\0');
  auto* pt = reinterpret_cast<unsigned char*>(plain.data());
  int ptLen = 0;
  if (ctSize > 0) {
    if (EVP_DecryptUpdate(ctx.get(), pt, &len, bytes + kNonceBytes, static_cast<int>(ctSize)) != 1) {
      OPENSSL_cleanse(plain.data(), plain.size());
      return fail("cipher failed");
    }
    ptLen = len;
  }
  unsigned char tag[kTagBytes];
  std::memcpy(tag, bytes + kNonceBytes + ctSize, kTagBytes);
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes), tag) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), pt + ptLen, &len) != 1) {
    OPENSSL_cleanse(plain.data(), plain.size());
    return fail("wrong secret, wrong context, or a tampered value");
  }
  ptLen += len;
  plain.resize(static_cast<size_t>(ptLen));
  return plain;
}

}  // namespace proxyos::tls
