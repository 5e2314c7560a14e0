#pragma once
// A real ACME server for tests: Debian's pebble, with pebble-challtestsrv as
// its DNS (every name resolves to 127.0.0.1), each on free loopback ports in
// its own temp directory. Pebble's HTTPS certificate (for "localhost" and
// 127.0.0.1) is issued by a root made here (shared/tls/pki.h) and written to
// caRootFile(): what AcmeSettings::caRootFile points at.
//
// Pebble's VA sends HTTP-01 requests to 127.0.0.1:httpPort — the test's own
// responder, which must listen before start(). Both processes are killed in
// the destructor (and when the test process dies, see ChildProcess).
#include <cstdint>
#include <memory>
#include <string>

#include "tests/support/server_process.h"
#include "tests/support/temp_dir.h"

namespace proxyos::testing {

class Pebble {
 public:
  explicit Pebble(uint16_t httpPort);
  Pebble(const Pebble&) = delete;  // the servers' callbacks point at this object
  Pebble& operator=(const Pebble&) = delete;
  ~Pebble();

  /// Starts pebble-challtestsrv, then pebble, and waits until pebble's
  /// directory answers over verified TLS. Throws std::runtime_error when a
  /// binary is missing (naming the Debian package) or a server does not come up.
  void start();
  void stop();

  /// https://127.0.0.1:PORT/dir
  std::string directoryUrl() const;
  /// https://127.0.0.1:PORT (management API: /roots/0, /intermediates/0, ...)
  std::string managementUrl() const;
  /// PEM of the root that signs pebble's own HTTPS certificate.
  const std::string& caRootFile() const { return caRootFile_; }
  uint16_t httpPort() const { return httpPort_; }
  /// The root pebble issues ACME certificates under (regenerated at each
  /// start), from the management API. Throws std::runtime_error on failure.
  std::string issuingRoot() const;
  std::string logTail() const;

 private:
  uint16_t httpPort_;
  TempDir dir_;  // the TLS root, pebble's certificate and key
  std::string caRootFile_;
  std::string certFile_;
  std::string keyFile_;
  std::unique_ptr<ServerProcess> challtestsrv_;
  std::unique_ptr<ServerProcess> pebble_;
};

}  // namespace proxyos::testing
