// The ACME client against a real pebble (Debian's package): a certificate for
// two names over HTTP-01, an invalid authorization, and the transport's
// failures (closed port, silent server, a CA root that is not pebble's).
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "shared/tls/acme_client.h"
#include "tests/support/connection_threads.h"
#include "tests/support/http01_server.h"
#include "tests/support/loopback.h"
#include "tests/support/pebble.h"
#include "tests/support/temp_dir.h"

namespace proxyos::testing {
namespace {

using namespace std::chrono_literals;
using tls::AcmeClient;
using tls::AcmeSettings;

/// The edge's side of HTTP-01 in miniature: present/cleanup keep token →
/// key authorization, and an HTTP server on 127.0.0.1 answers pebble's VA.
/// With `corrupt`, it serves a wrong key authorization.
class ChallengeResponder : public tls::Http01Responder {
 public:
  ChallengeResponder()
      : server_([this](const std::string& token) { return answer(token); },
                [this](const std::string& token) {
                  std::lock_guard lock(mu_);
                  served_.push_back(token);
                }) {}

  uint16_t port() const { return server_.port(); }
  void setCorrupt(bool corrupt) {
    std::lock_guard lock(mu_);
    corrupt_ = corrupt;
  }

  Status present(const std::string& token, const std::string& keyAuthorization) override {
    std::lock_guard lock(mu_);
    keyAuthorizations_[token] = keyAuthorization;
    presented_.push_back(token);
    return okStatus();
  }
  void cleanup(const std::string& token) override {
    std::lock_guard lock(mu_);
    keyAuthorizations_.erase(token);
    cleaned_.push_back(token);
  }

  std::vector<std::string> presented() const { return locked(presented_); }
  std::vector<std::string> cleaned() const { return locked(cleaned_); }
  std::vector<std::string> served() const { return locked(served_); }  // tokens answered with 200
  size_t live() const {
    std::lock_guard lock(mu_);
    return keyAuthorizations_.size();
  }

 private:
  template <class T>
  T locked(const T& v) const {
    std::lock_guard lock(mu_);
    return v;
  }

  Result<std::optional<std::string>> answer(const std::string& token) {
    std::lock_guard lock(mu_);
    const auto it = keyAuthorizations_.find(token);
    if (it == keyAuthorizations_.end()) return std::optional<std::string>();
    return std::optional<std::string>(corrupt_ ? it->second + "x" : it->second);
  }

  mutable std::mutex mu_;
  std::map<std::string, std::string> keyAuthorizations_;
  std::vector<std::string> presented_, cleaned_, served_;
  bool corrupt_ = false;
  Http01Server server_;  // last: its threads stop before the state above goes away
};

tls::PrivateKey newKey() {
  auto key = tls::PrivateKey::generateP256();
  EXPECT_TRUE(key.ok());
  return std::move(key).value();
}

void writeFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

class AcmePebbleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pebble_ = std::make_unique<Pebble>(responder_.port());
    try {
      pebble_->start();
    } catch (const std::exception& e) {
      FAIL() << "pebble did not start: " << e.what();
    }
  }

  AcmeSettings settings() const {
    AcmeSettings s;
    s.directoryUrl = pebble_->directoryUrl();
    s.caRootFile = pebble_->caRootFile();
    s.email = "ops@proxyos.test";
    s.requestTimeout = 5s;
    s.validationTimeout = 30s;
    s.pollInterval = 100ms;
    return s;
  }

  ChallengeResponder responder_;
  std::unique_ptr<Pebble> pebble_;
};

TEST_F(AcmePebbleTest, ObtainsACertificateForTwoNamesOverHttp01) {
  const std::vector<std::string> names = {"a.proxyos.test", "b.proxyos.test"};
  AcmeClient client(settings(), newKey());
  auto result = client.obtain(names, responder_);
  ASSERT_TRUE(result.ok()) << result.error().code << ": " << result.error().message << "\n" << pebble_->logTail();

  const auto& cert = result.value().certificate;
  const std::string issuingRoot = pebble_->issuingRoot();
  for (const auto& name : names) {
    auto verified = tls::verifyChain(cert.certificatePem, issuingRoot, name, std::chrono::system_clock::now());
    EXPECT_TRUE(verified.ok()) << name << ": " << verified.error().message;
  }
  // The check can fail: not for another name, not against pebble's own TLS root.
  EXPECT_FALSE(
      tls::verifyChain(cert.certificatePem, issuingRoot, "c.proxyos.test", std::chrono::system_clock::now()).ok());
  std::ifstream rootFile(pebble_->caRootFile());
  const std::string tlsRoot((std::istreambuf_iterator<char>(rootFile)), std::istreambuf_iterator<char>());
  EXPECT_FALSE(tls::verifyChain(cert.certificatePem, tlsRoot, names[0], std::chrono::system_clock::now()).ok());

  auto info = tls::inspectCertificate(cert.certificatePem);
  ASSERT_TRUE(info.ok());
  std::vector<std::string> sans = info.value().dnsNames;
  std::sort(sans.begin(), sans.end());
  EXPECT_EQ(sans, names);
  EXPECT_TRUE(tls::keyMatchesCertificate(cert.certificatePem, cert.keyPem));
  EXPECT_FALSE(result.value().orderUrl.empty());
  EXPECT_FALSE(result.value().accountUrl.empty());

  // One challenge per name, each fetched by pebble's VA, each cleaned up.
  const auto presented = responder_.presented();
  ASSERT_EQ(presented.size(), 2u);
  const auto served = responder_.served();
  for (const auto& token : presented)
    EXPECT_NE(std::find(served.begin(), served.end(), token), served.end()) << "pebble never fetched " << token;
  const auto cleaned = responder_.cleaned();
  EXPECT_EQ(std::set<std::string>(presented.begin(), presented.end()),
            std::set<std::string>(cleaned.begin(), cleaned.end()));
  EXPECT_EQ(cleaned.size(), 2u);
  EXPECT_EQ(responder_.live(), 0u);
}

TEST_F(AcmePebbleTest, TheSameKeyFindsTheSameAccount) {
  auto key = newKey();
  auto copy = tls::PrivateKey::fromPem(key.toPem());
  ASSERT_TRUE(copy.ok());
  AcmeClient first(settings(), std::move(key));
  AcmeClient second(settings(), std::move(copy).value());
  auto a = first.ensureAccount();
  ASSERT_TRUE(a.ok()) << a.error().message;
  auto b = second.ensureAccount();
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(a.value(), b.value());
  AcmeClient other(settings(), newKey());
  auto c = other.ensureAccount();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_NE(c.value(), a.value());
}

TEST_F(AcmePebbleTest, AWrongKeyAuthorizationMakesTheOrderInvalidPromptly) {
  responder_.setCorrupt(true);
  AcmeClient client(settings(), newKey());
  const auto start = std::chrono::steady_clock::now();
  auto result = client.obtain({"wrong.proxyos.test"}, responder_);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, "acme_invalid") << result.error().message;
  EXPECT_NE(result.error().message.find("wrong.proxyos.test"), std::string::npos) << result.error().message;
  EXPECT_NE(result.error().message.find("urn:ietf:params:acme:error:"), std::string::npos) << result.error().message;
  EXPECT_LT(elapsed, 10s);
  EXPECT_EQ(responder_.presented().size(), 1u);
  EXPECT_EQ(responder_.cleaned(), responder_.presented());
  EXPECT_FALSE(responder_.served().empty());
}

TEST_F(AcmePebbleTest, ACaRootThatIsNotPebblesFailsVerification) {
  TempDir dir;
  auto otherRoot = tls::createRootCa("Not pebble's root", std::chrono::hours(1), std::chrono::system_clock::now());
  ASSERT_TRUE(otherRoot.ok());
  writeFile(dir.path() + "/other-root.pem", otherRoot.value().certificatePem);
  AcmeSettings s = settings();
  s.caRootFile = dir.path() + "/other-root.pem";
  AcmeClient client(s, newKey());
  auto result = client.obtain({"c.proxyos.test"}, responder_);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, "acme_unreachable");
  EXPECT_NE(result.error().message.find("certificate verification failed"), std::string::npos)
      << result.error().message;
  EXPECT_TRUE(responder_.presented().empty());
}

TEST_F(AcmePebbleTest, TheHostNameIsChecked) {
  // Pebble's certificate names "localhost" and 127.0.0.1. "127.1" reaches the
  // same socket (inet_aton) but is a name the certificate does not carry.
  const std::string prefix = "https://127.0.0.1:";
  const std::string base = settings().directoryUrl;
  ASSERT_EQ(base.rfind(prefix, 0), 0u);
  const std::string portAndPath = base.substr(prefix.size());

  AcmeSettings byName = settings();
  byName.directoryUrl = "https://localhost:" + portAndPath;
  auto ok = AcmeClient(byName, newKey()).ensureAccount();
  EXPECT_TRUE(ok.ok()) << ok.error().message;

  AcmeSettings mismatch = settings();
  mismatch.directoryUrl = "https://127.1:" + portAndPath;
  auto account = AcmeClient(mismatch, newKey()).ensureAccount();
  ASSERT_FALSE(account.ok());
  EXPECT_EQ(account.error().code, "acme_unreachable");
  EXPECT_NE(account.error().message.find("hostname mismatch"), std::string::npos) << account.error().message;
}

TEST(AcmeTransport, AClosedPortIsUnreachableWithinTheRequestTimeout) {
  AcmeSettings s;
  s.directoryUrl = "https://127.0.0.1:" + std::to_string(freePort()) + "/dir";
  s.requestTimeout = 2s;
  AcmeClient client(s, newKey());
  const auto start = std::chrono::steady_clock::now();
  auto account = client.ensureAccount();
  ASSERT_FALSE(account.ok());
  EXPECT_EQ(account.error().code, "acme_unreachable") << account.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(AcmeTransport, ASilentServerTimesOutWithinTheRequestTimeout) {
  // Accepts and never answers: the TLS handshake must be bounded.
  ConnectionThreads silent([](ConnectionThreads::Socket& socket, int) {
    char byte;
    boost::system::error_code ec;
    while (!ec) socket.read_some(boost::asio::buffer(&byte, 1), ec);
  });
  AcmeSettings s;
  s.directoryUrl = "https://127.0.0.1:" + std::to_string(silent.port()) + "/dir";
  s.requestTimeout = 1s;
  AcmeClient client(s, newKey());
  const auto start = std::chrono::steady_clock::now();
  auto account = client.ensureAccount();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(account.ok());
  EXPECT_EQ(account.error().code, "acme_unreachable");
  EXPECT_NE(account.error().message.find("timed out"), std::string::npos) << account.error().message;
  EXPECT_GE(elapsed, 900ms);
  EXPECT_LT(elapsed, 3s);
  silent.stop();
}

}  // namespace
}  // namespace proxyos::testing
