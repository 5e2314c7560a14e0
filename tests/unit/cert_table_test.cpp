// CertTable lookup by SNI name and ServerCertificate loading/installation,
// with certificates made by shared/tls/pki.h (no network).
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <chrono>
#include <memory>

#include "services/edge-proxy/cert_table.h"

namespace proxyos::edge {
namespace {

using namespace std::chrono_literals;

const tls::KeyedCertificate& testCa() {
  static const tls::KeyedCertificate ca =
      tls::createRootCa("cert table test root", 24h, std::chrono::system_clock::now()).value();
  return ca;
}

std::shared_ptr<const ServerCertificate> certFor(const std::string& name) {
  auto leaf = tls::issueLeaf(testCa(), {name}, 1h, std::chrono::system_clock::now());
  EXPECT_TRUE(leaf.ok());
  auto cert = ServerCertificate::load(leaf.value(), "internal");
  EXPECT_TRUE(cert.ok()) << cert.error().message;
  return cert.value();
}

class CertTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    exact = certFor("a.b.test");
    wildcard = certFor("*.b.test");
    other = certFor("b.test");
    table = std::make_unique<CertTable>(CertTable::Map{{"a.b.test", exact}, {"*.b.test", wildcard}, {"b.test", other}});
  }
  std::shared_ptr<const ServerCertificate> exact, wildcard, other;
  std::unique_ptr<CertTable> table;
};

TEST_F(CertTableTest, ExactBeatsWildcard) {
  EXPECT_EQ(table->find("a.b.test"), exact.get());
  EXPECT_EQ(table->find("c.b.test"), wildcard.get());
  EXPECT_EQ(table->find("b.test"), other.get());
}

TEST_F(CertTableTest, CaseAndOneTrailingDot) {
  EXPECT_EQ(table->find("A.B.TEST"), exact.get());
  EXPECT_EQ(table->find("a.b.test."), exact.get());
  EXPECT_EQ(table->find("Zz.b.Test."), wildcard.get());
  EXPECT_EQ(table->find("a.b.test.."), nullptr);  // only one dot is stripped
}

TEST_F(CertTableTest, NoMatch) {
  EXPECT_EQ(table->find(""), nullptr);
  EXPECT_EQ(table->find("."), nullptr);
  EXPECT_EQ(table->find("c.test"), nullptr);
  EXPECT_EQ(table->find("a.b.test.example"), nullptr);
}

TEST(CertTable, WildcardCoversExactlyOneLabel) {
  CertTable table(CertTable::Map{{"*.b.test", certFor("*.b.test")}});
  EXPECT_NE(table.find("x.b.test"), nullptr);
  EXPECT_EQ(table.find("b.test"), nullptr);
  EXPECT_EQ(table.find("x.y.b.test"), nullptr);
  EXPECT_EQ(table.find(".b.test"), nullptr);  // empty first label
  // A parent without a dot never looks up "*.test".
  CertTable tld(CertTable::Map{{"*.test", certFor("*.test")}});
  EXPECT_EQ(tld.find("b.test"), nullptr);
}

TEST(ServerCertificate, LoadKeepsInfoAndChain) {
  auto leaf = tls::issueLeaf(testCa(), {"a.b.test"}, 1h, std::chrono::system_clock::now()).value();
  tls::KeyedCertificate chained{leaf.certificatePem + testCa().certificatePem, leaf.keyPem};
  auto cert = ServerCertificate::load(chained, "acme");
  ASSERT_TRUE(cert.ok()) << cert.error().message;
  EXPECT_EQ(cert.value()->source(), "acme");
  EXPECT_EQ(cert.value()->info().dnsNames, std::vector<std::string>{"a.b.test"});
  EXPECT_EQ(cert.value()->info().issuerCommonName, "cert table test root");
  EXPECT_EQ(cert.value()->chainPem(), chained.certificatePem);
}

TEST(ServerCertificate, RejectsAMismatchedKeyAndGarbage) {
  auto a = tls::issueLeaf(testCa(), {"a.test"}, 1h, std::chrono::system_clock::now()).value();
  auto b = tls::issueLeaf(testCa(), {"b.test"}, 1h, std::chrono::system_clock::now()).value();
  auto mismatched = ServerCertificate::load({a.certificatePem, b.keyPem}, "internal");
  ASSERT_FALSE(mismatched.ok());
  EXPECT_NE(mismatched.error().message.find("does not belong"), std::string::npos) << mismatched.error().message;
  EXPECT_FALSE(ServerCertificate::load({"not a pem", a.keyPem}, "internal").ok());
  EXPECT_FALSE(ServerCertificate::load({a.certificatePem, "not a key"}, "internal").ok());
}

TEST(ServerCertificate, InstallsOnAConnection) {
  auto leaf = tls::issueLeaf(testCa(), {"a.b.test"}, 1h, std::chrono::system_clock::now()).value();
  auto cert = ServerCertificate::load({leaf.certificatePem + testCa().certificatePem, leaf.keyPem}, "internal");
  ASSERT_TRUE(cert.ok());

  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  ASSERT_NE(ctx, nullptr);
  SSL* ssl = SSL_new(ctx);
  ASSERT_NE(ssl, nullptr);
  EXPECT_EQ(SSL_get_certificate(ssl), nullptr);
  EXPECT_TRUE(cert.value()->installOn(ssl));
  X509* installed = SSL_get_certificate(ssl);
  ASSERT_NE(installed, nullptr);
  EXPECT_EQ(SSL_check_private_key(ssl), 1);
  STACK_OF(X509)* chain = nullptr;
  ASSERT_EQ(SSL_get0_chain_certs(ssl, &chain), 1);
  ASSERT_NE(chain, nullptr);
  EXPECT_EQ(sk_X509_num(chain), 1);

  // Dropping the table's certificate leaves the connection's own references valid.
  cert = Result<std::shared_ptr<const ServerCertificate>>(Error::make(ErrorKind::Internal, "gone", "gone"));
  EXPECT_EQ(SSL_check_private_key(ssl), 1);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
}

}  // namespace
}  // namespace proxyos::edge
