#pragma once
// The edge's certificate manager: the internal root CA shared by every edge
// (through the `proxyos-certs` bucket), a locally issued leaf for each route
// domain in TLS mode `internal` or `auto`, and ACME (HTTP-01) certificates for
// `auto` domains, ordered by exactly one edge at a time (a Redis lock) and
// shared with the others through the bucket.
//
// Bucket keys (values JSON; private keys sealed with tls::sealWithSecret under
// PROXYOS_SECRET, the key name as AAD, opened with the secret or any previous
// one):
//   ca              {"certificatePem","keySealed","createdAt"}   create-only
//   acme-account    {"keySealed","createdAt"}                     create-only
//   acme.<domain>   {"chainPem","keySealed","notAfter","orderedBy","orderedAt"}
// Redis keys (ephemeral):
//   proxyos:acme:lock:<domain>       SET NX PX lockTtl, value "<node>/<random>"
//   proxyos:acme:backoff:<domain>    failure count, PX = the current back-off
//   proxyos:acme:challenge:<token>   key authorization, EX 600
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cert_table.h"
#include "shared/core/clock.h"
#include "shared/core/error.h"
#include "shared/model/route.h"
#include "shared/redis/redis_client.h"
#include "shared/store/kv_bucket.h"
#include "shared/tls/acme_client.h"
#include "shared/tls/pki.h"

namespace proxyos::edge {

/// A domain a route wants served over TLS: "a.example.com" or
/// "*.example.com", lower-case, with its route's mode (Internal or Auto).
struct WantedCert {
  std::string name;
  model::TlsMode mode = model::TlsMode::Internal;
};

struct CertManagerOptions {
  std::string nodeId;                        // PROXYOS_NODE_ID: recorded as orderedBy, in the lock value
  std::string secret;                        // PROXYOS_SECRET: seals new keys
  std::vector<std::string> previousSecrets;  // PROXYOS_SECRET_PREVIOUS: still open old ones
  tls::AcmeSettings acme;                    // PROXYOS_ACME_DIRECTORY / _CA_ROOT / _EMAIL
  std::chrono::seconds internalLeafValidity{7 * 24 * 3600};
  std::chrono::seconds caValidity{10LL * 365 * 24 * 3600};
  std::chrono::seconds lockTtl{180};  // the Redis ACME lock (refreshed while an order presents challenges)
  std::chrono::seconds minBackoff{30}, maxBackoff{3600};
};

/// Keeps `out` (the CertHolder the TLS handshakes read) filled with a
/// certificate for every wanted name.
///
/// Threads (all started by start(), joined by stop()):
///   - the watch thread follows the bucket (KvBucket::watch, recreated after a
///     pause when it fails) and loads `acme.*` certificates written by any
///     edge, republishing the table within milliseconds;
///   - the leaf thread loads the CA (retrying while it cannot), issues and
///     renews internal leaves (at 2/3 of their lifetime) and republishes the
///     table when anything it would select changed;
///   - the ACME thread runs orders, one at a time (they block for seconds).
/// setWanted(), caPem(), hasTrustedCert(), status() and the counters may be
/// called from any thread; they only take a mutex that is never held across
/// I/O. challengeAnswer() does one Redis GET on the caller's thread.
///
/// ACME per `auto` name (never wildcards: HTTP-01 cannot issue them) while it
/// has no ACME certificate or it is past 2/3 of its lifetime: skip while in
/// back-off (local, or shared through proxyos:acme:backoff:<name>); take the
/// lock (SET NX PX), re-read acme.<name> (another edge may have just
/// finished), order, `put` the result, release the lock only if it is still
/// ours (Lua compare-and-delete). A failure sets lastError and a back-off of
/// minBackoff·2^(n-1), capped at maxBackoff, shared with the other edges
/// (which adopt the failure count, so the back-off keeps growing whichever
/// edge tries next). Until an ACME certificate exists the name is served with
/// its internal leaf.
class CertManager {
 public:
  CertManager(store::KvBucket& certs, redis::Client& redis, const Clock& clock, CertHolder& out,
              CertManagerOptions options);
  ~CertManager();  // stop()
  CertManager(const CertManager&) = delete;
  CertManager& operator=(const CertManager&) = delete;

  /// Starts the threads and tries to load the CA (or create it when the
  /// bucket has none) before returning. Ok once the CA is loaded. An Error
  /// when it is not: either a dependency is down (NATS: kind Unavailable) —
  /// the threads keep retrying in the background and nothing is published
  /// until the CA loads — or the stored CA key cannot be opened with
  /// PROXYOS_SECRET or any previous secret (code "ca_unseal_failed"): the
  /// stored CA is never replaced; the background keeps retrying slowly (in
  /// case the bucket entry is fixed) and serves nothing meanwhile. Once only.
  Status start();
  /// Stops and joins the threads. An ACME order in flight is finished first
  /// (AcmeClient has no cancellation; bounded by AcmeSettings' timeouts).
  /// Idempotent.
  void stop();

  /// The complete set of wanted names (replaces the previous one). Cheap:
  /// stores it and wakes the threads; bursts coalesce.
  void setWanted(std::vector<WantedCert> wanted);

  /// The internal root, PEM; "" before it is loaded.
  std::string caPem() const;

  /// HTTP-01: the key authorization for `token` from Redis (so whichever edge
  /// the CA reaches answers). Blocking (one GET). nullopt for an unknown or
  /// malformed token; Error when Redis is down.
  Result<std::optional<std::string>> challengeAnswer(const std::string& token);

  /// auto: a valid ACME certificate is loaded; internal: a leaf was issued.
  /// False for a name that is not wanted.
  bool hasTrustedCert(const std::string& name) const;

  /// One object per wanted name:
  /// {"names":[...],"issuer":"…","notAfter":"…","source":"internal|acme|none",
  ///  "mode":"internal|auto","lastError":"…"|null,"nextAttemptAt":"…"|null}
  nlohmann::ordered_json status() const;

  std::uint64_t ordersStarted() const { return ordersStarted_.load(); }
  std::uint64_t ordersFailed() const { return ordersFailed_.load(); }

 private:
  struct Leaf {
    std::shared_ptr<const ServerCertificate> cert;
    Clock::WallTime renewAt{};
  };
  struct AcmeCert {
    std::shared_ptr<const ServerCertificate> cert;
    Clock::WallTime renewAt{};  // 2/3 of notBefore..notAfter
    std::uint64_t revision = 0;
  };
  struct AcmeState {
    std::string lastError;
    int failures = 0;
    Clock::MonoTime nextAttempt{};      // monotonic: local back-off or lock wait
    Clock::WallTime nextAttemptWall{};  // the same instant for status()
  };
  struct Wanted {
    model::TlsMode mode;
  };

  // CA and account keys from the bucket.
  Status loadOrCreateCa();
  Result<tls::PrivateKey> loadOrCreateAccountKey();
  Result<std::string> openSealed(const std::string& sealed, const std::string& aad) const;

  // Threads.
  void watchLoop();
  void leafLoop();
  void acmeLoop();
  bool pause(std::chrono::milliseconds d);  // false when stopping

  // Watch: an acme.<name> entry (put or delete).
  void applyAcmeEntry(const store::KvEntry& entry);
  Result<AcmeCert> decodeAcmeEntry(const store::KvEntry& entry) const;

  // Leaves and the table.
  void issueDueLeaves();
  void publishLocked();  // caller holds mu_
  bool acmeValidLocked(const std::string& name, Clock::WallTime now) const;

  // ACME.
  std::vector<std::string> acmeDueNames();
  void attemptOrder(const std::string& name);
  void recordFailure(const std::string& name, const Error& error);
  bool releaseLock(const std::string& lockKey, const std::string& token);

  store::KvBucket& certs_;
  redis::Client& redis_;
  const Clock& clock_;
  CertHolder& out_;
  const CertManagerOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;
  bool stopping_ = false;
  bool wantedChanged_ = false;     // for the leaf thread
  bool acmeWake_ = false;          // for the ACME thread
  bool snapshotComplete_ = false;  // the bucket's initial state is in
  std::optional<tls::KeyedCertificate> ca_;  // key PEM in memory only; never logged
  std::string caError_;
  std::map<std::string, Wanted, std::less<>> wanted_;
  std::map<std::string, Leaf, std::less<>> leaves_;
  std::map<std::string, AcmeCert, std::less<>> acmeCerts_;
  std::map<std::string, AcmeState, std::less<>> acmeState_;
  CertTable::Map published_;

  std::unique_ptr<tls::AcmeClient> acmeClient_;  // the ACME thread's only

  std::atomic<std::uint64_t> ordersStarted_{0};
  std::atomic<std::uint64_t> ordersFailed_{0};

  std::thread watchThread_;
  std::thread leafThread_;
  std::thread acmeThread_;
};

}  // namespace proxyos::edge
