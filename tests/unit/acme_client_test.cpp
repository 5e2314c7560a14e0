// The pure parts of the ACME client: key authorizations, the JWS it signs,
// problem documents, Retry-After, and input checks made before any request.
#include "shared/tls/acme_client.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "shared/crypto/base64url.h"
#include "shared/tls/acme_http.h"
#include "shared/tls/acme_jws.h"

namespace proxyos::tls {
namespace {

using nlohmann::json;

PrivateKey newKey() {
  auto key = PrivateKey::generateP256();
  EXPECT_TRUE(key.ok());
  return std::move(key).value();
}

std::string decode(const std::string& b64) {
  auto out = crypto::base64UrlDecode(b64);
  EXPECT_TRUE(out.has_value()) << b64;
  return out.value_or("");
}

std::string sha256Base64Url(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return crypto::base64UrlEncode(std::string(reinterpret_cast<char*>(md), len));
}

/// ES256 verification of a raw r‖s signature, independent of pki.cpp.
bool verifyEs256(const PrivateKey& key, const std::string& data, const std::string& rawSignature) {
  if (rawSignature.size() != 64) return false;
  auto* bytes = reinterpret_cast<const unsigned char*>(rawSignature.data());
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(bytes, 32, nullptr), BN_bin2bn(bytes + 32, 32, nullptr));
  unsigned char* der = nullptr;
  const int derLen = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
            EVP_DigestVerify(ctx, der, derLen, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(der);
  return ok;
}

class CountingResponder : public Http01Responder {
 public:
  Status present(const std::string&, const std::string&) override {
    ++presented;
    return okStatus();
  }
  void cleanup(const std::string&) override { ++cleaned; }
  int presented = 0;
  int cleaned = 0;
};

TEST(AcmeKeyAuthorization, IsTokenDotThumbprintOfTheAccountKey) {
  PrivateKey key = newKey();
  const std::string thumbprint = key.jwkThumbprint();
  const std::string jwk = key.publicJwk();
  AcmeClient client({}, std::move(key));
  const std::string token = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";
  EXPECT_EQ(client.keyAuthorization(token), token + "." + thumbprint);
  // The thumbprint is RFC 7638's: SHA-256 of the canonical JWK, unpadded base64url.
  EXPECT_EQ(thumbprint, sha256Base64Url(jwk));
  EXPECT_EQ(thumbprint.size(), 43u);
}

TEST(AcmeKeyAuthorization, DiffersBetweenAccountKeys) {
  AcmeClient a({}, newKey());
  AcmeClient b({}, newKey());
  EXPECT_NE(a.keyAuthorization("t"), b.keyAuthorization("t"));
}

TEST(AcmeJws, NewAccountCarriesTheJwkAndVerifies) {
  PrivateKey key = newKey();
  auto jws =
      acme::signJws(key, "https://ca.test/new-acct", "nonce-1", "", std::string(R"({"termsOfServiceAgreed":true})"));
  ASSERT_TRUE(jws.ok()) << jws.error().message;
  const json doc = json::parse(jws.value());
  ASSERT_EQ(doc.size(), 3u) << doc.dump();
  const json header = json::parse(decode(doc.at("protected")));
  EXPECT_EQ(header.at("alg"), "ES256");
  EXPECT_EQ(header.at("nonce"), "nonce-1");
  EXPECT_EQ(header.at("url"), "https://ca.test/new-acct");
  EXPECT_EQ(header.at("jwk"), json::parse(key.publicJwk()));
  EXPECT_FALSE(header.contains("kid"));
  EXPECT_EQ(json::parse(decode(doc.at("payload"))), json::parse(R"({"termsOfServiceAgreed":true})"));

  const std::string signingInput = doc.at("protected").get<std::string>() + "." + doc.at("payload").get<std::string>();
  const std::string signature = decode(doc.at("signature"));
  EXPECT_EQ(signature.size(), 64u);
  EXPECT_TRUE(verifyEs256(key, signingInput, signature));
  EXPECT_FALSE(verifyEs256(key, signingInput + "x", signature));  // the check can fail
  EXPECT_FALSE(verifyEs256(newKey(), signingInput, signature));
}

TEST(AcmeJws, LaterRequestsUseKidAndPostAsGetHasAnEmptyPayload) {
  PrivateKey key = newKey();
  auto jws = acme::signJws(key, "https://ca.test/order/1", "n2", "https://ca.test/acct/7", std::nullopt);
  ASSERT_TRUE(jws.ok());
  const json doc = json::parse(jws.value());
  const json header = json::parse(decode(doc.at("protected")));
  EXPECT_EQ(header.at("kid"), "https://ca.test/acct/7");
  EXPECT_FALSE(header.contains("jwk"));
  EXPECT_EQ(doc.at("payload"), "");  // POST-as-GET: "", not base64url("{}")
  EXPECT_TRUE(verifyEs256(key, doc.at("protected").get<std::string>() + ".", decode(doc.at("signature"))));

  auto withEmptyObject =
      acme::signJws(key, "https://ca.test/chall/1", "n3", "https://ca.test/acct/7", std::string("{}"));
  ASSERT_TRUE(withEmptyObject.ok());
  EXPECT_EQ(json::parse(withEmptyObject.value()).at("payload"), crypto::base64UrlEncode("{}"));
}

TEST(AcmeProblem, ParsesAProblemDocument) {
  auto problem = acme::parseProblem(
      R"({"type":"urn:ietf:params:acme:error:badNonce","detail":"JWS has an invalid anti-replay nonce","status":400})");
  ASSERT_TRUE(problem.has_value());
  EXPECT_TRUE(problem->is("badNonce"));
  EXPECT_FALSE(problem->is("badNonc"));
  EXPECT_FALSE(problem->is("malformed"));
  EXPECT_EQ(problem->status, 400);
  EXPECT_EQ(problem->describe(), "urn:ietf:params:acme:error:badNonce: JWS has an invalid anti-replay nonce");
}

TEST(AcmeProblem, RejectsWhatIsNotAProblem) {
  EXPECT_FALSE(acme::parseProblem("").has_value());
  EXPECT_FALSE(acme::parseProblem("<html>502 Bad Gateway</html>").has_value());
  EXPECT_FALSE(acme::parseProblem(R"({"detail":"no type"})").has_value());
  EXPECT_FALSE(acme::parseProblem(R"({"type":42})").has_value());
  EXPECT_FALSE(acme::parseProblem(R"(["urn:ietf:params:acme:error:badNonce"])").has_value());
  auto other = acme::parseProblem(R"({"type":"about:blank"})");
  ASSERT_TRUE(other.has_value());
  EXPECT_FALSE(other->is("blank"));
  EXPECT_EQ(other->describe(), "about:blank");
}

TEST(AcmeRetryAfter, ParsesSecondsAndDates) {
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  const auto now = std::chrono::system_clock::from_time_t(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(acme::parseRetryAfter("120", now), milliseconds(seconds(120)));
  EXPECT_EQ(acme::parseRetryAfter(" 3 ", now), milliseconds(seconds(3)));
  EXPECT_EQ(acme::parseRetryAfter("0", now), milliseconds(0));
  EXPECT_EQ(acme::parseRetryAfter("Sun, 06 Nov 1994 08:50:07 GMT", now), milliseconds(seconds(30)));
  EXPECT_EQ(acme::parseRetryAfter("Sun, 06 Nov 1994 08:00:00 GMT", now), milliseconds(0));
  EXPECT_FALSE(acme::parseRetryAfter("", now).has_value());
  EXPECT_FALSE(acme::parseRetryAfter("-5", now).has_value());
  EXPECT_FALSE(acme::parseRetryAfter("soon", now).has_value());
  EXPECT_FALSE(acme::parseRetryAfter("99999999999999999999", now).has_value());
  EXPECT_FALSE(acme::parseRetryAfter("Sun, 06 Nov 1994 08:50:07 GMT trailing", now).has_value());
}

TEST(AcmeObtain, RefusesNoNamesAndWildcardsBeforeAnyRequest) {
  // A directory nobody serves: the checks must come first.
  AcmeSettings settings;
  settings.directoryUrl = "https://127.0.0.1:1/dir";
  AcmeClient client(settings, newKey());
  CountingResponder responder;
  auto none = client.obtain({}, responder);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().field, "dnsNames");
  auto wildcard = client.obtain({"a.example.com", "*.example.com"}, responder);
  ASSERT_FALSE(wildcard.ok());
  EXPECT_EQ(wildcard.error().field, "dnsNames[1]");
  EXPECT_EQ(responder.presented, 0);
}

TEST(AcmeHttp, ABadUrlIsUnreachable) {
  auto answer = acme::httpExchange({"GET", "ftp://example.com/dir", {}, ""}, {});
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.error().code, "acme_unreachable");
  auto garbage = acme::httpExchange({"GET", "not a url", {}, ""}, {});
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().code, "acme_unreachable");
}

TEST(AcmeHttp, AMissingCaRootFileIsUnreachableAndNamesTheFile) {
  acme::HttpOptions options;
  options.caRootFile = "/nonexistent/proxyos-acme-root.pem";
  auto answer = acme::httpExchange({"GET", "https://127.0.0.1:1/dir", {}, ""}, options);
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.error().code, "acme_unreachable");
  EXPECT_NE(answer.error().message.find("/nonexistent/proxyos-acme-root.pem"), std::string::npos);
}

}  // namespace
}  // namespace proxyos::tls
