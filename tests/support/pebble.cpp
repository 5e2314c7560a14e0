#include "tests/support/pebble.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "shared/tls/acme_http.h"
#include "shared/tls/pki.h"
#include "tests/support/loopback.h"

namespace proxyos::testing {
namespace {

constexpr const char* kPebbleBinary = "pebble";
constexpr const char* kChalltestsrvBinary = "pebble-challtestsrv";

bool onPath(const std::string& binary) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (!dir.empty() && ::access((dir + "/" + binary).c_str(), X_OK) == 0) return true;
  }
  return false;
}

void requireBinary(const std::string& binary) {
  if (!onPath(binary))
    throw std::runtime_error("'" + binary +
                             "' not found on PATH: install the Debian package 'pebble' "
                             "(scripts/bootstrap installs it from scripts/packages.txt)");
}

void writeFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string loopbackUrl(uint16_t port) { return "https://127.0.0.1:" + std::to_string(port); }

tls::acme::HttpAnswer httpsGet(const std::string& url, const std::string& caRootFile,
                               std::chrono::milliseconds timeout) {
  auto answer = tls::acme::httpExchange({"GET", url, {}, ""}, {caRootFile, timeout});
  if (!answer) throw std::runtime_error("GET " + url + ": " + answer.error().message);
  return answer.value();
}

}  // namespace

Pebble::Pebble(uint16_t httpPort) : httpPort_(httpPort) {
  const auto now = std::chrono::system_clock::now();
  auto root = tls::createRootCa("ProxyOS test pebble root", std::chrono::hours(24), now);
  if (!root) throw std::runtime_error("pebble fixture: createRootCa: " + root.error().message);
  auto leaf = tls::issueLeaf(root.value(), {"localhost", "127.0.0.1"}, std::chrono::hours(24), now);
  if (!leaf) throw std::runtime_error("pebble fixture: issueLeaf: " + leaf.error().message);
  caRootFile_ = dir_.path() + "/pebble-root.pem";
  certFile_ = dir_.path() + "/pebble-cert.pem";
  keyFile_ = dir_.path() + "/pebble-key.pem";
  writeFile(caRootFile_, root.value().certificatePem);
  writeFile(certFile_, leaf.value().certificatePem);
  writeFile(keyFile_, leaf.value().keyPem);

  // ports: DNS, management.
  challtestsrv_ = std::make_unique<ServerProcess>(ServerProcess::Spec{
      .name = "pebble-challtestsrv",
      .binary = kChalltestsrvBinary,
      .portCount = 2,
      .args =
          [](const std::vector<uint16_t>& ports, const std::string&) {
            return std::vector<std::string>{"-defaultIPv4", "127.0.0.1",
                                            "-defaultIPv6", "",
                                            "-dns01",       "127.0.0.1:" + std::to_string(ports[0]),
                                            "-http01",      "",
                                            "-https01",     "",
                                            "-tlsalpn01",   "",
                                            "-management",  "127.0.0.1:" + std::to_string(ports[1])};
          },
      // Only challtestsrv answers this management call with 200.
      .ready =
          [](const std::vector<uint16_t>& ports, pid_t) {
            const std::string body = R"({"ip":"127.0.0.1"})";
            auto answer = loopbackRoundTrip(ports[1],
                                            "POST /set-default-ipv4 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                            "Content-Type: application/json\r\nConnection: close\r\n"
                                            "Content-Length: " +
                                                std::to_string(body.size()) + "\r\n\r\n" + body,
                                            std::chrono::milliseconds(500));
            return answer && answer->rfind("HTTP/1.1 200", 0) == 0;
          },
      .env = {},
      .startTimeout = std::chrono::seconds(15)});

  // ports: ACME listen, management, tlsPort (TLS-ALPN-01; unused but required).
  pebble_ = std::make_unique<ServerProcess>(ServerProcess::Spec{
      .name = "pebble",
      .binary = kPebbleBinary,
      .portCount = 3,
      .args =
          [this](const std::vector<uint16_t>& ports, const std::string& dir) {
            nlohmann::json config = {{"pebble",
                                      {{"listenAddress", "127.0.0.1:" + std::to_string(ports[0])},
                                       {"managementListenAddress", "127.0.0.1:" + std::to_string(ports[1])},
                                       {"certificate", certFile_},
                                       {"privateKey", keyFile_},
                                       {"httpPort", httpPort_},
                                       {"tlsPort", ports[2]},
                                       {"ocspResponderURL", ""},
                                       {"externalAccountBindingRequired", false}}}};
            writeFile(dir + "/pebble.json", config.dump(2));
            return std::vector<std::string>{"-config", dir + "/pebble.json", "-dnsserver",
                                            "127.0.0.1:" + std::to_string(challtestsrv_->port())};
          },
      // Verified TLS against our own root: nobody else holds a certificate from it.
      .ready =
          [this](const std::vector<uint16_t>& ports, pid_t) {
            auto answer = tls::acme::httpExchange({"GET", loopbackUrl(ports[0]) + "/dir", {}, ""},
                                                  {caRootFile_, std::chrono::milliseconds(1000)});
            return answer && answer.value().status == 200;
          },
      .env = {{"PEBBLE_VA_NOSLEEP", "1"}, {"PEBBLE_WFE_NONCEREJECT", "0"}, {"PEBBLE_VA_ALWAYS_VALID", "0"}},
      .startTimeout = std::chrono::seconds(20)});
}

Pebble::~Pebble() { stop(); }

void Pebble::start() {
  requireBinary(kChalltestsrvBinary);
  requireBinary(kPebbleBinary);
  challtestsrv_->start();
  pebble_->start();
}

void Pebble::stop() {
  // pebble first: it uses challtestsrv as its DNS.
  if (pebble_) pebble_->stop();
  if (challtestsrv_) challtestsrv_->stop();
}

std::string Pebble::directoryUrl() const { return loopbackUrl(pebble_->port()) + "/dir"; }

std::string Pebble::managementUrl() const {
  return pebble_->ports().size() > 1 ? loopbackUrl(pebble_->ports()[1]) : std::string();
}

std::string Pebble::issuingRoot() const {
  auto answer = httpsGet(managementUrl() + "/roots/0", caRootFile_, std::chrono::seconds(5));
  if (answer.status != 200)
    throw std::runtime_error("GET /roots/0 answered " + std::to_string(answer.status) + ": " + answer.body);
  return answer.body;
}

std::string Pebble::logTail() const {
  return "--- pebble ---\n" + pebble_->logTail() + "\n--- pebble-challtestsrv ---\n" + challtestsrv_->logTail();
}

}  // namespace proxyos::testing
