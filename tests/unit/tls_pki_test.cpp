// shared/tls/pki: keys, JWK, ES256, the internal CA and its leaves, CSRs,
// chain verification and sealing. Checks go through OpenSSL directly (or an
// independent computation) rather than through the code under test.
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "shared/crypto/base64url.h"
#include "shared/crypto/sha256.h"
#include "shared/tls/pki.h"

namespace proxyos::tls {
namespace {

using namespace std::chrono_literals;
using std::chrono::seconds;
using std::chrono::system_clock;

// A fixed clock: 2030-01-01T00:00:00Z.
const TimePoint kNow = system_clock::from_time_t(1893456000);

template <class T>
T must(Result<T> r) {
  if (!r.ok()) {
    ADD_FAILURE() << "unexpected error: " << r.error().code << ": " << r.error().message;
    throw std::runtime_error("must");
  }
  return std::move(r).value();
}

long long secondsBetween(TimePoint a, TimePoint b) {
  return std::chrono::duration_cast<seconds>(a - b).count();
}

// ---- keys ----

TEST(TlsPrivateKey, GenerateToPemFromPemRoundTrip) {
  auto key = must(PrivateKey::generateP256());
  ASSERT_FALSE(key.empty());
  const std::string pem = key.toPem();
  EXPECT_EQ(pem.rfind("-----BEGIN PRIVATE KEY-----", 0), 0u) << pem.substr(0, 40);
  auto back = must(PrivateKey::fromPem(pem));
  EXPECT_EQ(back.publicJwk(), key.publicJwk());
  EXPECT_EQ(back.jwkThumbprint(), key.jwkThumbprint());
  // A second key is different.
  auto other = must(PrivateKey::generateP256());
  EXPECT_NE(other.publicJwk(), key.publicJwk());
}

TEST(TlsPrivateKey, FromPemAcceptsSec1EcPrivateKey) {
  auto key = must(PrivateKey::generateP256());
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  // Traditional (SEC1) encoding: "-----BEGIN EC PRIVATE KEY-----".
  ASSERT_EQ(PEM_write_bio_PrivateKey_traditional(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr), 1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  std::string sec1(data, static_cast<size_t>(len));
  ASSERT_EQ(sec1.rfind("-----BEGIN EC PRIVATE KEY-----", 0), 0u);
  auto back = must(PrivateKey::fromPem(sec1));
  EXPECT_EQ(back.publicJwk(), key.publicJwk());
}

TEST(TlsPrivateKey, FromPemRejectsRsaOtherCurvesAndGarbage) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> rsa(EVP_RSA_gen(2048), &EVP_PKEY_free);
  ASSERT_TRUE(rsa);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> p384(EVP_EC_gen("P-384"), &EVP_PKEY_free);
  ASSERT_TRUE(p384);
  for (EVP_PKEY* k : {rsa.get(), p384.get()}) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
    ASSERT_EQ(PEM_write_bio_PrivateKey(bio.get(), k, nullptr, nullptr, 0, nullptr, nullptr), 1);
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    auto r = PrivateKey::fromPem(std::string(data, static_cast<size_t>(len)));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, "invalid_key");
  }
  EXPECT_FALSE(PrivateKey::fromPem("").ok());
  EXPECT_FALSE(PrivateKey::fromPem("garbage").ok());
  EXPECT_FALSE(PrivateKey::fromPem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").ok());
}

TEST(TlsPrivateKey, EmptyKeyIsHarmless) {
  PrivateKey key;
  EXPECT_TRUE(key.empty());
  EXPECT_EQ(key.toPem(), "");
  EXPECT_EQ(key.publicJwk(), "");
  EXPECT_FALSE(key.signEs256("x").ok());
}

// ---- JWK ----

std::string bnFixed(const BIGNUM* bn) {
  std::string out(32, '\0');
  EXPECT_EQ(BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), 32), 32);
  return out;
}

TEST(TlsPrivateKey, PublicJwkAndThumbprintMatchRfc7638) {
  for (int i = 0; i < 8; ++i) {  // several keys so that short coordinates get exercised eventually
    auto key = must(PrivateKey::generateP256());
    BIGNUM* x = nullptr;
    BIGNUM* y = nullptr;
    ASSERT_EQ(EVP_PKEY_get_bn_param(key.get(), "qx", &x), 1);
    ASSERT_EQ(EVP_PKEY_get_bn_param(key.get(), "qy", &y), 1);
    const std::string xs = crypto::base64UrlEncode(bnFixed(x));
    const std::string ys = crypto::base64UrlEncode(bnFixed(y));
    BN_free(x);
    BN_free(y);
    EXPECT_EQ(xs.size(), 43u);
    const std::string expected = "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"" + xs + "\",\"y\":\"" + ys + "\"}";
    EXPECT_EQ(key.publicJwk(), expected);
    EXPECT_EQ(key.jwkThumbprint(), crypto::base64UrlEncode(crypto::sha256(expected)));
    EXPECT_EQ(key.jwkThumbprint().size(), 43u);
  }
}

// ---- ES256 ----

bool verifyRawEs256(EVP_PKEY* key, const std::string& data, const std::string& raw) {
  if (raw.size() != 64) return false;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
  ECDSA_SIG_set0(sig, r, s);
  unsigned char* der = nullptr;
  const int derLen = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestVerify(md, der, static_cast<size_t>(derLen), reinterpret_cast<const unsigned char*>(data.data()),
                             data.size()) == 1;
  EVP_MD_CTX_free(md);
  OPENSSL_free(der);
  return ok;
}

TEST(TlsPrivateKey, SignEs256IsRawAndVerifies) {
  auto key = must(PrivateKey::generateP256());
  const std::string data = "eyJhbGciOiJFUzI1NiJ9.eyJwYXlsb2FkIjoxfQ";
  for (int i = 0; i < 16; ++i) {  // r or s with a leading zero byte turns up now and then
    const std::string sig = must(key.signEs256(data));
    ASSERT_EQ(sig.size(), 64u);
    EXPECT_TRUE(verifyRawEs256(key.get(), data, sig));
    std::string flipped = sig;
    flipped[i * 4 % 64] ^= 0x01;
    EXPECT_FALSE(verifyRawEs256(key.get(), data, flipped));
    EXPECT_FALSE(verifyRawEs256(key.get(), data + "x", sig));
  }
  auto other = must(PrivateKey::generateP256());
  EXPECT_FALSE(verifyRawEs256(other.get(), data, must(key.signEs256(data))));
}

// ---- root CA and leaves ----

struct Pki {
  KeyedCertificate ca;
  KeyedCertificate leaf;
};

const Pki& testPki() {
  static const Pki pki = [] {
    Pki p;
    p.ca = must(createRootCa("ProxyOS Test Root", seconds(3650LL * 24 * 3600), kNow));
    p.leaf = must(issueLeaf(p.ca, {"a.test", "*.b.test", "127.0.0.1", "::1"}, seconds(90LL * 24 * 3600), kNow));
    return p;
  }();
  return pki;
}

std::unique_ptr<X509, decltype(&X509_free)> parseCert(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  return {PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free};
}

TEST(TlsRootCa, InspectShowsASelfSignedCa) {
  const auto& ca = testPki().ca;
  auto info = must(inspectCertificate(ca.certificatePem));
  EXPECT_TRUE(info.isCa);
  EXPECT_EQ(info.subjectCommonName, "ProxyOS Test Root");
  EXPECT_EQ(info.issuerCommonName, "ProxyOS Test Root");
  EXPECT_LE(std::abs(secondsBetween(info.notAfter, kNow + seconds(3650LL * 24 * 3600))), 1);
  EXPECT_LE(std::abs(secondsBetween(info.notBefore, kNow - 1h)), 1);
  EXPECT_TRUE(info.dnsNames.empty());
  // 16 random bytes with the top bit clear: positive, at most 127 bits (the
  // hex drops leading zero bytes, so it is 32 characters or a little shorter).
  EXPECT_LE(info.serialHex.size(), 32u);
  EXPECT_GE(info.serialHex.size(), 16u);
  EXPECT_EQ(info.serialHex.find_first_not_of("0123456789ABCDEF"), std::string::npos);

  auto x = parseCert(ca.certificatePem);
  ASSERT_TRUE(x);
  BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x.get()), nullptr);
  ASSERT_NE(serial, nullptr);
  EXPECT_FALSE(BN_is_negative(serial));
  EXPECT_FALSE(BN_is_zero(serial));
  EXPECT_LE(BN_num_bits(serial), 127);
  char* hex = BN_bn2hex(serial);
  EXPECT_EQ(info.serialHex, hex);
  OPENSSL_free(hex);
  BN_free(serial);
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(x.get()), X509_get_issuer_name(x.get())), 0);
  EXPECT_EQ(X509_check_ca(x.get()), 1);
  EXPECT_EQ(X509_verify(x.get(), X509_get0_pubkey(x.get())), 1);  // self-signed
  EXPECT_TRUE(X509_get_key_usage(x.get()) & KU_KEY_CERT_SIGN);
  EXPECT_TRUE(X509_get_key_usage(x.get()) & KU_CRL_SIGN);
  int crit = -1;
  auto* bc = static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(x.get(), NID_basic_constraints, &crit, nullptr));
  ASSERT_NE(bc, nullptr);
  EXPECT_EQ(crit, 1);
  BASIC_CONSTRAINTS_free(bc);
  EXPECT_NE(X509_get0_subject_key_id(x.get()), nullptr);
  EXPECT_TRUE(keyMatchesCertificate(ca.certificatePem, ca.keyPem));
}

TEST(TlsRootCa, SerialsDiffer) {
  auto a = must(inspectCertificate(testPki().ca.certificatePem));
  auto b = must(inspectCertificate(must(createRootCa("Other", seconds(3600), kNow)).certificatePem));
  EXPECT_NE(a.serialHex, b.serialHex);
}

TEST(TlsLeaf, SansAreSplitIntoDnsAndIp) {
  const auto& pki = testPki();
  auto info = must(inspectCertificate(pki.leaf.certificatePem));
  EXPECT_FALSE(info.isCa);
  EXPECT_EQ(info.dnsNames, (std::vector<std::string>{"a.test", "*.b.test"}));
  EXPECT_EQ(info.ipAddresses, (std::vector<std::string>{"127.0.0.1", "::1"}));
  EXPECT_EQ(info.subjectCommonName, "a.test");
  EXPECT_EQ(info.issuerCommonName, "ProxyOS Test Root");
  EXPECT_LE(std::abs(secondsBetween(info.notAfter, kNow + seconds(90LL * 24 * 3600))), 1);
  EXPECT_LE(std::abs(secondsBetween(info.notBefore, kNow - 1h)), 1);

  auto x = parseCert(pki.leaf.certificatePem);
  auto caX = parseCert(pki.ca.certificatePem);
  ASSERT_TRUE(x && caX);
  EXPECT_EQ(X509_verify(x.get(), X509_get0_pubkey(caX.get())), 1);
  EXPECT_EQ(X509_check_issued(caX.get(), x.get()), X509_V_OK);
  EXPECT_TRUE(X509_get_extended_key_usage(x.get()) & XKU_SSL_SERVER);
  EXPECT_TRUE(X509_get_key_usage(x.get()) & KU_DIGITAL_SIGNATURE);
  EXPECT_NE(X509_get0_authority_key_id(x.get()), nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x.get()), X509_get0_subject_key_id(caX.get())), 0);
  // A fresh P-256 key, PKCS#8 PEM.
  EXPECT_EQ(pki.leaf.keyPem.rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);
  EXPECT_TRUE(PrivateKey::fromPem(pki.leaf.keyPem).ok());
}

TEST(TlsLeaf, NotAfterClippedToCa) {
  auto ca = must(createRootCa("Short Root", seconds(10 * 24 * 3600), kNow));
  auto leaf = must(issueLeaf(ca, {"a.test"}, seconds(90LL * 24 * 3600), kNow));
  auto caInfo = must(inspectCertificate(ca.certificatePem));
  auto leafInfo = must(inspectCertificate(leaf.certificatePem));
  EXPECT_EQ(leafInfo.notAfter, caInfo.notAfter);
  EXPECT_LE(std::abs(secondsBetween(leafInfo.notAfter, kNow + seconds(10 * 24 * 3600))), 1);
  // And still verifies at its last valid moment.
  EXPECT_TRUE(verifyChain(leaf.certificatePem, ca.certificatePem, "a.test", leafInfo.notAfter - 1s).ok());
}

TEST(TlsLeaf, LongFirstNameHasNoCommonName) {
  const std::string longName = std::string(70, 'a') + ".test";
  auto leaf = must(issueLeaf(testPki().ca, {longName, "b.test"}, seconds(3600), kNow));
  auto info = must(inspectCertificate(leaf.certificatePem));
  EXPECT_EQ(info.subjectCommonName, "");
  EXPECT_EQ(info.dnsNames, (std::vector<std::string>{longName, "b.test"}));
}

TEST(TlsLeaf, IpLookalikeDnsNameStaysDns) {
  auto leaf = must(issueLeaf(testPki().ca, {"1.2.3.4.nip.io"}, seconds(3600), kNow));
  auto info = must(inspectCertificate(leaf.certificatePem));
  EXPECT_EQ(info.dnsNames, (std::vector<std::string>{"1.2.3.4.nip.io"}));
  EXPECT_TRUE(info.ipAddresses.empty());
}

TEST(TlsLeaf, Errors) {
  const auto& pki = testPki();
  EXPECT_FALSE(issueLeaf(pki.ca, {}, seconds(3600), kNow).ok());
  EXPECT_FALSE(issueLeaf({"garbage", pki.ca.keyPem}, {"a.test"}, seconds(3600), kNow).ok());
  EXPECT_FALSE(issueLeaf({pki.ca.certificatePem, "garbage"}, {"a.test"}, seconds(3600), kNow).ok());
  // The key of another CA (or of the leaf) does not match.
  auto other = must(createRootCa("Other", seconds(3600), kNow));
  EXPECT_FALSE(issueLeaf({pki.ca.certificatePem, other.keyPem}, {"a.test"}, seconds(3600), kNow).ok());
  EXPECT_FALSE(issueLeaf({pki.ca.certificatePem, pki.leaf.keyPem}, {"a.test"}, seconds(3600), kNow).ok());
}

// ---- verifyChain ----

TEST(TlsVerify, HostsMatchAsRfc6125Says) {
  const auto& pki = testPki();
  for (const char* host : {"a.test", "x.b.test", "127.0.0.1", "::1"}) {
    auto s = verifyChain(pki.leaf.certificatePem, pki.ca.certificatePem, host, kNow);
    EXPECT_TRUE(s.ok()) << host << ": " << (s.ok() ? "" : s.error().message);
  }
  for (const char* host : {"c.test", "y.x.b.test", "b.test", "127.0.0.2", "::2"}) {
    auto s = verifyChain(pki.leaf.certificatePem, pki.ca.certificatePem, host, kNow);
    ASSERT_FALSE(s.ok()) << host;
    EXPECT_EQ(s.error().code, "verification_failed");
  }
}

TEST(TlsVerify, TimeWindow) {
  const auto& pki = testPki();
  auto info = must(inspectCertificate(pki.leaf.certificatePem));
  EXPECT_TRUE(verifyChain(pki.leaf.certificatePem, pki.ca.certificatePem, "a.test", info.notBefore + 1s).ok());
  auto late = verifyChain(pki.leaf.certificatePem, pki.ca.certificatePem, "a.test", info.notAfter + 1s);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, "verification_failed");
  EXPECT_NE(late.error().message.find("expired"), std::string::npos) << late.error().message;
  auto early = verifyChain(pki.leaf.certificatePem, pki.ca.certificatePem, "a.test", info.notBefore - 1s);
  ASSERT_FALSE(early.ok());
  EXPECT_NE(early.error().message.find("not yet valid"), std::string::npos) << early.error().message;
}

TEST(TlsVerify, OtherRootFails) {
  const auto& pki = testPki();
  auto other = must(createRootCa("ProxyOS Test Root", seconds(3650LL * 24 * 3600), kNow));  // same name, other key
  auto s = verifyChain(pki.leaf.certificatePem, other.certificatePem, "a.test", kNow);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "verification_failed");
  EXPECT_FALSE(verifyChain(pki.leaf.certificatePem, "garbage", "a.test", kNow).ok());
  EXPECT_FALSE(verifyChain("garbage", pki.ca.certificatePem, "a.test", kNow).ok());
  EXPECT_FALSE(verifyChain(pki.leaf.certificatePem, pki.ca.certificatePem, "", kNow).ok());
}

TEST(TlsVerify, CaCertificateIsNotAServerCertificate) {
  const auto& pki = testPki();
  // A leaf for a name, but presented with the root as the "leaf": must not pass for a host.
  EXPECT_FALSE(verifyChain(pki.ca.certificatePem, pki.ca.certificatePem, "ProxyOS Test Root", kNow).ok());
}

TEST(TlsVerify, IntermediatesFromTheChainAreUsed) {
  // Root -> (leaf-signing) intermediate built with raw OpenSSL -> leaf by issueLeaf.
  auto root = must(createRootCa("Chain Root", seconds(3650LL * 24 * 3600), kNow));
  // Make an intermediate: a CA certificate signed by the root.
  auto interKey = must(PrivateKey::generateP256());
  auto rootX = parseCert(root.certificatePem);
  std::unique_ptr<BIO, decltype(&BIO_free)> kb(
      BIO_new_mem_buf(root.keyPem.data(), static_cast<int>(root.keyPem.size())), &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> rootKey(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr),
                                                              &EVP_PKEY_free);
  ASSERT_TRUE(rootX && rootKey);
  std::unique_ptr<X509, decltype(&X509_free)> inter(X509_new(), &X509_free);
  X509_set_version(inter.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(inter.get()), 4242);
  const time_t t = system_clock::to_time_t(kNow);
  ASN1_TIME_set(X509_getm_notBefore(inter.get()), t - 7200);
  ASN1_TIME_set(X509_getm_notAfter(inter.get()), t + 365 * 24 * 3600);
  X509_NAME* name = X509_NAME_new();
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("Chain Inter"), -1, -1,
                             0);
  X509_set_subject_name(inter.get(), name);
  X509_NAME_free(name);
  X509_set_issuer_name(inter.get(), X509_get_subject_name(rootX.get()));
  X509_set_pubkey(inter.get(), interKey.get());
  X509V3_CTX v3{};
  X509V3_set_ctx(&v3, rootX.get(), inter.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                            std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
                            std::pair{NID_subject_key_identifier, "hash"},
                            std::pair{NID_authority_key_identifier, "keyid:always"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    ASSERT_NE(ext, nullptr);
    X509_add_ext(inter.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  ASSERT_GT(X509_sign(inter.get(), rootKey.get(), EVP_sha256()), 0);
  std::unique_ptr<BIO, decltype(&BIO_free)> ib(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_X509(ib.get(), inter.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(ib.get(), &data);
  const std::string interPem(data, static_cast<size_t>(len));

  auto leaf = must(issueLeaf({interPem, interKey.toPem()}, {"deep.test"}, seconds(30 * 24 * 3600), kNow));
  EXPECT_TRUE(verifyChain(leaf.certificatePem + interPem, root.certificatePem, "deep.test", kNow).ok());
  // Without the intermediate there is no path to the root.
  EXPECT_FALSE(verifyChain(leaf.certificatePem, root.certificatePem, "deep.test", kNow).ok());
  // 30 days fit inside the intermediate: not clipped.
  EXPECT_LE(std::abs(secondsBetween(must(inspectCertificate(leaf.certificatePem)).notAfter, kNow + 30 * 24h)), 1);

  auto parts = must(splitPemChain(leaf.certificatePem + "\n" + interPem));
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(must(inspectCertificate(parts[0])).subjectCommonName, "deep.test");
  EXPECT_EQ(must(inspectCertificate(parts[1])).subjectCommonName, "Chain Inter");
  EXPECT_EQ(must(inspectCertificate(leaf.certificatePem + interPem)).subjectCommonName, "deep.test");
}

// ---- keyMatchesCertificate ----

TEST(TlsKeyMatch, TrueAndFalse) {
  const auto& pki = testPki();
  EXPECT_TRUE(keyMatchesCertificate(pki.leaf.certificatePem, pki.leaf.keyPem));
  EXPECT_TRUE(keyMatchesCertificate(pki.ca.certificatePem, pki.ca.keyPem));
  EXPECT_FALSE(keyMatchesCertificate(pki.leaf.certificatePem, pki.ca.keyPem));
  EXPECT_FALSE(keyMatchesCertificate(pki.ca.certificatePem, pki.leaf.keyPem));
  EXPECT_FALSE(keyMatchesCertificate("garbage", pki.leaf.keyPem));
  EXPECT_FALSE(keyMatchesCertificate(pki.leaf.certificatePem, "garbage"));
  // First certificate of a chain counts.
  EXPECT_TRUE(keyMatchesCertificate(pki.leaf.certificatePem + pki.ca.certificatePem, pki.leaf.keyPem));
}

// ---- CSR ----

TEST(TlsCsr, ParsesBackWithSansAndValidSignature) {
  auto key = must(PrivateKey::generateP256());
  const std::string der = must(makeCsrDer(key, {"a.test", "www.a.test", "10.0.0.1"}));
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<X509_REQ, decltype(&X509_REQ_free)> req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())),
                                                          &X509_REQ_free);
  ASSERT_TRUE(req);
  EXPECT_EQ(p, reinterpret_cast<const unsigned char*>(der.data()) + der.size());  // no trailing bytes
  EXPECT_EQ(X509_REQ_verify(req.get(), key.get()), 1);
  auto other = must(PrivateKey::generateP256());
  EXPECT_NE(X509_REQ_verify(req.get(), other.get()), 1);

  // CN is the first name.
  X509_NAME* subject = X509_REQ_get_subject_name(req.get());
  char cn[256] = {0};
  ASSERT_GT(X509_NAME_get_text_by_NID(subject, NID_commonName, cn, sizeof cn), 0);
  EXPECT_STREQ(cn, "a.test");

  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req.get());
  ASSERT_NE(exts, nullptr);
  std::vector<std::string> dns;
  for (int i = 0; i < sk_X509_EXTENSION_num(exts); ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts, i);
    if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name) continue;
    auto* gens = static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext));
    ASSERT_NE(gens, nullptr);
    for (int j = 0; j < sk_GENERAL_NAME_num(gens); ++j) {
      GENERAL_NAME* g = sk_GENERAL_NAME_value(gens, j);
      ASSERT_EQ(g->type, GEN_DNS);  // all DNS, even the IP-looking one
      dns.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(g->d.dNSName)),
                       static_cast<size_t>(ASN1_STRING_length(g->d.dNSName)));
    }
    GENERAL_NAMES_free(gens);
  }
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  EXPECT_EQ(dns, (std::vector<std::string>{"a.test", "www.a.test", "10.0.0.1"}));
}

TEST(TlsCsr, Errors) {
  auto key = must(PrivateKey::generateP256());
  EXPECT_FALSE(makeCsrDer(key, {}).ok());
  EXPECT_FALSE(makeCsrDer(PrivateKey(), {"a.test"}).ok());
}

// ---- sealing ----

TEST(TlsSeal, RoundTrip) {
  const std::string secret = "correct horse battery staple";
  const std::string text = testPki().leaf.keyPem;
  const std::string sealed = must(sealWithSecret(text, secret, "certs/a.test"));
  EXPECT_EQ(sealed.rfind("v1.", 0), 0u);
  EXPECT_EQ(sealed.find(text), std::string::npos);
  // nonce 12 + ciphertext + tag 16, base64url.
  auto raw = crypto::base64UrlDecode(std::string_view(sealed).substr(3));
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->size(), 12 + text.size() + 16);
  EXPECT_EQ(must(openWithSecret(sealed, secret, "certs/a.test")), text);
  // Empty plaintext and empty aad work too.
  EXPECT_EQ(must(openWithSecret(must(sealWithSecret("", secret, "")), secret, "")), "");
  // An empty secret still derives a key (and is not the same as another secret).
  const std::string emptySealed = must(sealWithSecret("x", "", ""));
  ASSERT_FALSE(emptySealed.empty());
  EXPECT_EQ(must(openWithSecret(emptySealed, "", "")), "x");
  EXPECT_FALSE(openWithSecret(emptySealed, "a", "").ok());
}

TEST(TlsSeal, TwoSealsDiffer) {
  EXPECT_NE(must(sealWithSecret("same", "s", "a")), must(sealWithSecret("same", "s", "a")));
}

TEST(TlsSeal, WrongSecretAadOrTamperingFails) {
  const std::string sealed = must(sealWithSecret("hello key", "secret-1", "aad-1"));
  auto expectFail = [](const Result<std::string>& r, const char* what) {
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.error().code, "unseal_failed") << what;
  };
  expectFail(openWithSecret(sealed, "secret-2", "aad-1"), "wrong secret");
  expectFail(openWithSecret(sealed, "secret-1", "aad-2"), "wrong aad");
  expectFail(openWithSecret(sealed, "secret-1", ""), "missing aad");
  auto raw = *crypto::base64UrlDecode(std::string_view(sealed).substr(3));
  for (size_t i = 0; i < raw.size(); ++i) {  // nonce, ciphertext and tag bytes
    std::string bad = raw;
    bad[i] ^= 0x20;
    expectFail(openWithSecret("v1." + crypto::base64UrlEncode(bad), "secret-1", "aad-1"), "tampered");
  }
  expectFail(openWithSecret("v1." + crypto::base64UrlEncode(raw.substr(0, raw.size() - 1)), "secret-1", "aad-1"),
             "truncated");
}

TEST(TlsSeal, MalformedFails) {
  for (const char* bad : {"", "v1.", "v2.x", "v1.!!!!", "v1.AAAA", "hello", "V1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}) {
    auto r = openWithSecret(bad, "s", "");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, "unseal_failed");
  }
}

// ---- splitPemChain / inspect errors ----

TEST(TlsPem, SplitChain) {
  const auto& pki = testPki();
  auto parts = must(splitPemChain(pki.leaf.certificatePem + pki.ca.certificatePem));
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0], pki.leaf.certificatePem);
  EXPECT_EQ(parts[1], pki.ca.certificatePem);
  // Other PEM blocks (a key) are skipped.
  auto withKey = must(splitPemChain(pki.leaf.keyPem + pki.leaf.certificatePem));
  ASSERT_EQ(withKey.size(), 1u);
  EXPECT_FALSE(splitPemChain("").ok());
  EXPECT_FALSE(splitPemChain(pki.leaf.keyPem).ok());
  EXPECT_FALSE(splitPemChain("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").ok());
  // One good block and one bad one is an error.
  EXPECT_FALSE(
      splitPemChain(pki.leaf.certificatePem + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").ok());
  // A BEGIN without END.
  EXPECT_FALSE(splitPemChain(pki.leaf.certificatePem.substr(0, pki.leaf.certificatePem.size() - 30)).ok());
}

TEST(TlsPem, InspectErrors) {
  for (const char* bad : {"", "garbage", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}) {
    auto r = inspectCertificate(bad);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, "invalid_certificate");
  }
}

}  // namespace
}  // namespace proxyos::tls
