#include "cert_manager.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <utility>

#include "shared/core/id.h"
#include "shared/core/time_format.h"

namespace proxyos::edge {

namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr std::string_view kBucket = "proxyos-certs";
constexpr std::string_view kCaKey = "ca";
constexpr std::string_view kAccountKey = "acme-account";
constexpr std::string_view kAcmePrefix = "acme.";
constexpr std::string_view kLockPrefix = "proxyos:acme:lock:";
constexpr std::string_view kBackoffPrefix = "proxyos:acme:backoff:";
constexpr std::string_view kChallengePrefix = "proxyos:acme:challenge:";
constexpr int kChallengeTtlSeconds = 600;

// How long the watch thread blocks in next() before it looks at the stop flag.
constexpr std::chrono::milliseconds kWatchPoll{100};
constexpr std::chrono::milliseconds kWatchRetry{500};
// The leaf and ACME threads re-evaluate at least this often: expiry and
// renewal deadlines are read from the injected clock, not slept on.
constexpr std::chrono::milliseconds kMaxIdle{1000};
// While another edge holds the lock, look again this often (its certificate
// normally arrives through the watch first).
constexpr std::chrono::milliseconds kLockRecheck{5000};

// Deletes the lock only when it still holds our token: after a lock TTL
// expiry another edge may own it.
constexpr const char* kReleaseScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";
constexpr const char* kRefreshScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";

std::string str(std::string_view s) { return std::string(s); }

std::string millis(std::chrono::milliseconds d) { return std::to_string(std::max<long long>(1, d.count())); }

bool isWildcard(const std::string& name) { return name.starts_with("*."); }

/// 2/3 of the way from notBefore to notAfter.
Clock::WallTime renewalPoint(const tls::CertificateInfo& info) {
  return info.notBefore + (info.notAfter - info.notBefore) * 2 / 3;
}

std::string describe(const Error& e) { return e.code.empty() ? e.message : e.code + ": " + e.message; }

/// Answers HTTP-01 challenges through Redis so that whichever edge the CA's
/// validation request reaches can answer it (CertManager::challengeAnswer).
class RedisHttp01Responder final : public tls::Http01Responder {
 public:
  RedisHttp01Responder(redis::Client& redis, std::string lockKey, std::string lockToken, std::chrono::milliseconds ttl)
      : redis_(redis), lockKey_(std::move(lockKey)), lockToken_(std::move(lockToken)), ttl_(ttl) {}

  Status present(const std::string& token, const std::string& keyAuthorization) override {
    // A long validation must not let the lock lapse under us: each challenge
    // restarts its TTL (only if it is still ours).
    auto replies = redis_.pipeline({{"SET", str(kChallengePrefix) + token, keyAuthorization, "EX",
                                     std::to_string(kChallengeTtlSeconds)},
                                    {"EVAL", kRefreshScript, "1", lockKey_, lockToken_, millis(ttl_)}});
    if (!replies) return replies.error();
    if (replies.value()[0].isError())
      return Error::make(ErrorKind::Internal, "redis_command_error", replies.value()[0].str);
    return okStatus();
  }

  void cleanup(const std::string& token) override {
    if (auto r = redis_.command({"DEL", str(kChallengePrefix) + token}); !r)
      spdlog::warn("acme: could not delete challenge {} ({}); it expires within {} s", token, r.error().message,
                   kChallengeTtlSeconds);
  }

 private:
  redis::Client& redis_;
  std::string lockKey_;
  std::string lockToken_;
  std::chrono::milliseconds ttl_;
};

}  // namespace

CertManager::CertManager(store::KvBucket& certs, redis::Client& redis, const Clock& clock, CertHolder& out,
                         CertManagerOptions options)
    : certs_(certs), redis_(redis), clock_(clock), out_(out), options_(std::move(options)) {}

CertManager::~CertManager() { stop(); }

// ---------------------------------------------------------------- lifecycle

Status CertManager::start() {
  {
    std::lock_guard lock(mu_);
    if (started_)
      return Error::make(ErrorKind::Internal, "already_started", "the certificate manager was already started");
    started_ = true;
  }
  Status ca = loadOrCreateCa();
  if (!ca) {
    std::lock_guard lock(mu_);
    caError_ = ca.error().message;
  }
  // Started whatever the outcome: they retry the CA in the background.
  watchThread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "cert-watch");
    watchLoop();
  });
  leafThread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "cert-leaves");
    leafLoop();
  });
  acmeThread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "cert-acme");
    acmeLoop();
  });
  return ca;
}

void CertManager::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread* t : {&watchThread_, &leafThread_, &acmeThread_})
    if (t->joinable()) t->join();
}

bool CertManager::pause(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopping_; });
}

void CertManager::setWanted(std::vector<WantedCert> wanted) {
  std::map<std::string, Wanted, std::less<>> next;
  for (auto& w : wanted) {
    if (w.mode == model::TlsMode::Off || w.name.empty()) continue;
    std::string name = std::move(w.name);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto [it, inserted] = next.emplace(std::move(name), Wanted{w.mode});
    // A domain on two routes with different modes: auto wins (it also serves
    // the internal leaf until ACME succeeds).
    if (!inserted && w.mode == model::TlsMode::Auto) it->second.mode = model::TlsMode::Auto;
  }
  {
    std::lock_guard lock(mu_);
    const bool same = next.size() == wanted_.size() &&
                      std::equal(next.begin(), next.end(), wanted_.begin(), [](const auto& a, const auto& b) {
                        return a.first == b.first && a.second.mode == b.second.mode;
                      });
    if (same) return;
    wanted_ = std::move(next);
    wantedChanged_ = true;
    acmeWake_ = true;
  }
  cv_.notify_all();
}

// ---------------------------------------------------------------- CA and keys

Result<std::string> CertManager::openSealed(const std::string& sealed, const std::string& aad) const {
  auto opened = tls::openWithSecret(sealed, options_.secret, aad);
  if (opened) return opened;
  for (const auto& previous : options_.previousSecrets) {
    auto old = tls::openWithSecret(sealed, previous, aad);
    if (old) return old;
  }
  return opened.error();
}

Status CertManager::loadOrCreateCa() {
  const std::string key = str(kCaKey);
  auto got = certs_.get(key);
  if (!got && got.error().kind != ErrorKind::NotFound)
    return Error::make(got.error().kind, "ca_unavailable",
                       "cannot read the internal CA from " + str(kBucket) + ": " + got.error().message);
  if (!got) {
    // No CA yet: make one and claim the key create-only, so exactly one edge's
    // root wins even when several start at once.
    auto root = tls::createRootCa("ProxyOS Internal Root CA", options_.caValidity, clock_.now());
    if (!root) return root.error();
    auto sealed = tls::sealWithSecret(root.value().keyPem, options_.secret, key);
    if (!sealed) return sealed.error();
    json value = {{"certificatePem", root.value().certificatePem},
                  {"keySealed", sealed.value()},
                  {"createdAt", formatTime(clock_.now())}};
    auto created = certs_.create(key, value.dump());
    if (created) {
      auto info = tls::inspectCertificate(root.value().certificatePem);
      spdlog::info("created the internal root CA (serial {}) in {}", info ? info.value().serialHex : "?", kBucket);
      std::lock_guard lock(mu_);
      ca_ = std::move(root.value());
      caError_.clear();
      wantedChanged_ = true;
      acmeWake_ = true;
      cv_.notify_all();
      return okStatus();
    }
    if (created.error().kind != ErrorKind::Conflict)
      return Error::make(created.error().kind, "ca_unavailable",
                         "cannot store the internal CA in " + str(kBucket) + ": " + created.error().message);
    got = certs_.get(key);  // another edge created it first: use theirs
    if (!got)
      return Error::make(got.error().kind, "ca_unavailable",
                         "cannot read the internal CA from " + str(kBucket) + ": " + got.error().message);
  }

  tls::KeyedCertificate ca;
  std::string sealed;
  try {
    const json value = json::parse(got.value().value);
    ca.certificatePem = value.at("certificatePem").get<std::string>();
    sealed = value.at("keySealed").get<std::string>();
  } catch (const std::exception& e) {
    return Error::make(ErrorKind::Internal, "ca_invalid",
                       "the internal CA in " + str(kBucket) + " (key \"ca\") does not decode: " + e.what());
  }
  auto keyPem = openSealed(sealed, key);
  if (!keyPem)
    return Error::make(ErrorKind::Internal, "ca_unseal_failed",
                       "the internal CA key in " + str(kBucket) +
                           " (key \"ca\") cannot be opened with PROXYOS_SECRET or any PROXYOS_SECRET_PREVIOUS (" +
                           keyPem.error().message +
                           "); was the secret changed without keeping the old one in PROXYOS_SECRET_PREVIOUS?");
  ca.keyPem = std::move(keyPem.value());
  if (!tls::keyMatchesCertificate(ca.certificatePem, ca.keyPem))
    return Error::make(ErrorKind::Internal, "ca_invalid",
                       "the internal CA in " + str(kBucket) + " (key \"ca\"): the key does not match the certificate");
  std::lock_guard lock(mu_);
  ca_ = std::move(ca);
  caError_.clear();
  wantedChanged_ = true;
  acmeWake_ = true;
  cv_.notify_all();
  return okStatus();
}

Result<tls::PrivateKey> CertManager::loadOrCreateAccountKey() {
  const std::string key = str(kAccountKey);
  auto got = certs_.get(key);
  if (!got && got.error().kind != ErrorKind::NotFound) return got.error();
  if (!got) {
    auto fresh = tls::PrivateKey::generateP256();
    if (!fresh) return fresh.error();
    auto sealed = tls::sealWithSecret(fresh.value().toPem(), options_.secret, key);
    if (!sealed) return sealed.error();
    auto created =
        certs_.create(key, json{{"keySealed", sealed.value()}, {"createdAt", formatTime(clock_.now())}}.dump());
    if (created) {
      spdlog::info("acme: created the shared ACME account key in {}", kBucket);
      return std::move(fresh.value());
    }
    if (created.error().kind != ErrorKind::Conflict) return created.error();
    got = certs_.get(key);
    if (!got) return got.error();
  }
  std::string sealed;
  try {
    sealed = json::parse(got.value().value).at("keySealed").get<std::string>();
  } catch (const std::exception& e) {
    return Error::make(ErrorKind::Internal, "account_invalid",
                       "the ACME account in " + str(kBucket) + " does not decode: " + e.what());
  }
  auto pem = openSealed(sealed, key);
  if (!pem)
    return Error::make(ErrorKind::Internal, "account_unseal_failed",
                       "the ACME account key in " + str(kBucket) + " cannot be opened with PROXYOS_SECRET");
  return tls::PrivateKey::fromPem(pem.value());
}

// ---------------------------------------------------------------- watch

Result<CertManager::AcmeCert> CertManager::decodeAcmeEntry(const store::KvEntry& entry) const {
  tls::KeyedCertificate pem;
  std::string sealed;
  try {
    const json value = json::parse(entry.value);
    pem.certificatePem = value.at("chainPem").get<std::string>();
    sealed = value.at("keySealed").get<std::string>();
  } catch (const std::exception& e) {
    return Error::make(ErrorKind::Internal, "acme_entry_invalid", std::string("does not decode: ") + e.what());
  }
  auto key = openSealed(sealed, entry.key);
  if (!key)
    return Error::make(ErrorKind::Internal, "acme_entry_unseal_failed", "its key cannot be opened with PROXYOS_SECRET");
  pem.keyPem = std::move(key.value());
  auto cert = ServerCertificate::load(pem, "acme");
  if (!cert) return cert.error();
  AcmeCert out;
  out.renewAt = renewalPoint(cert.value()->info());
  out.cert = std::move(cert.value());
  out.revision = entry.revision;
  return out;
}

void CertManager::applyAcmeEntry(const store::KvEntry& entry) {
  const std::string name = entry.key.substr(kAcmePrefix.size());
  if (entry.op != store::KvEntry::Op::Put) {
    std::lock_guard lock(mu_);
    acmeCerts_.erase(name);
    acmeWake_ = true;
    publishLocked();
    cv_.notify_all();
    return;
  }
  {
    std::lock_guard lock(mu_);
    auto it = acmeCerts_.find(name);
    if (it != acmeCerts_.end() && it->second.revision == entry.revision) return;  // our own put, already loaded
  }
  auto decoded = decodeAcmeEntry(entry);
  if (!decoded) {
    spdlog::error("{} revision {} in {} is not usable ({}); keeping what was loaded before", entry.key,
                  entry.revision, kBucket, decoded.error().message);
    return;
  }
  std::lock_guard lock(mu_);
  auto& slot = acmeCerts_[name];
  if (slot.revision > entry.revision) return;
  slot = std::move(decoded.value());
  spdlog::info("acme: loaded the certificate for {} (revision {}, valid until {})", name, entry.revision,
               formatTime(slot.cert->info().notAfter));
  acmeWake_ = true;
  publishLocked();
  cv_.notify_all();
}

void CertManager::watchLoop() {
  std::unique_ptr<store::KvWatcher> watcher;
  std::set<std::string> staged;  // acme names seen in a (re)created watcher's snapshot
  bool inSnapshot = false;
  bool failing = false;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    if (!watcher) {
      auto w = certs_.watch(">");
      if (!w) {
        if (!failing) spdlog::warn("cannot watch {}: {}; retrying", kBucket, w.error().message);
        failing = true;
        if (!pause(kWatchRetry)) return;
        continue;
      }
      if (failing) spdlog::info("watching {} again", kBucket);
      failing = false;
      watcher = std::move(w.value());
      staged.clear();
      inSnapshot = true;
    }
    auto ev = watcher->next(kWatchPoll);
    if (!ev) {
      spdlog::warn("watch of {} failed: {}; recreating it", kBucket, ev.error().message);
      watcher.reset();
      if (!pause(kWatchRetry)) return;
      continue;
    }
    const auto& event = ev.value();
    using Type = store::KvWatcher::Event::Type;
    if (event.type == Type::Idle) continue;
    if (event.type == Type::SnapshotComplete) {
      std::lock_guard lock(mu_);
      // Certificates deleted while no watcher ran are not in the snapshot.
      for (auto it = acmeCerts_.begin(); it != acmeCerts_.end();)
        it = staged.contains(it->first) ? std::next(it) : acmeCerts_.erase(it);
      inSnapshot = false;
      snapshotComplete_ = true;
      acmeWake_ = true;
      publishLocked();
      cv_.notify_all();
      continue;
    }
    if (!event.entry.key.starts_with(kAcmePrefix)) continue;  // ca, acme-account: read on demand
    if (inSnapshot && event.entry.op == store::KvEntry::Op::Put)
      staged.insert(event.entry.key.substr(kAcmePrefix.size()));
    applyAcmeEntry(event.entry);
  }
}

// ---------------------------------------------------------------- leaves and the table

bool CertManager::acmeValidLocked(const std::string& name, Clock::WallTime now) const {
  auto it = acmeCerts_.find(name);
  return it != acmeCerts_.end() && it->second.cert->info().notAfter > now;
}

void CertManager::publishLocked() {
  if (!ca_) return;  // nothing is served before the CA is loaded
  const auto now = clock_.now();
  CertTable::Map next;
  for (const auto& [name, w] : wanted_) {
    if (w.mode == model::TlsMode::Auto && acmeValidLocked(name, now)) {
      next.emplace(name, acmeCerts_.at(name).cert);
    } else if (auto leaf = leaves_.find(name); leaf != leaves_.end()) {
      next.emplace(name, leaf->second.cert);
    }
  }
  if (out_.current() && next == published_) return;
  published_ = next;
  out_.publish(std::make_shared<const CertTable>(std::move(next)));
}

void CertManager::issueDueLeaves() {
  std::vector<std::string> due;
  tls::KeyedCertificate ca;
  {
    std::lock_guard lock(mu_);
    wantedChanged_ = false;
    if (!ca_) return;
    const auto now = clock_.now();
    for (auto it = leaves_.begin(); it != leaves_.end();)
      it = wanted_.contains(it->first) ? std::next(it) : leaves_.erase(it);
    for (const auto& [name, w] : wanted_) {
      auto leaf = leaves_.find(name);
      if (leaf == leaves_.end() || now >= leaf->second.renewAt) due.push_back(name);
    }
    if (due.empty()) {
      publishLocked();  // ACME certificates may have expired meanwhile
      return;
    }
    ca = *ca_;
  }
  std::map<std::string, Leaf> issued;
  for (const auto& name : due) {
    const auto now = clock_.now();
    auto leaf = tls::issueLeaf(ca, {name}, options_.internalLeafValidity, now);
    if (!leaf) {
      spdlog::error("cannot issue an internal certificate for {}: {}", name, leaf.error().message);
      continue;
    }
    auto cert = ServerCertificate::load(leaf.value(), "internal");
    if (!cert) {
      spdlog::error("internal certificate for {} does not load: {}", name, cert.error().message);
      continue;
    }
    // 2/3 of the certificate's own span (issueLeaf backdates notBefore by an
    // hour and may cap notAfter at the CA's).
    const Clock::WallTime renewAt = renewalPoint(cert.value()->info());
    issued[name] = Leaf{std::move(cert.value()), renewAt};
  }
  std::lock_guard lock(mu_);
  for (auto& [name, leaf] : issued)
    if (wanted_.contains(name)) leaves_[name] = std::move(leaf);
  publishLocked();
}

void CertManager::leafLoop() {
  std::chrono::milliseconds caRetry{1000};
  std::string lastCaError;
  for (;;) {
    bool haveCa;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      haveCa = ca_.has_value();
    }
    if (!haveCa) {
      Status st = loadOrCreateCa();
      if (!st) {
        if (st.error().message != lastCaError)
          spdlog::error("internal CA not loaded, no certificate is served: {}; retrying", st.error().message);
        lastCaError = st.error().message;
        {
          std::lock_guard lock(mu_);
          caError_ = st.error().message;
        }
        if (!pause(caRetry)) return;
        caRetry = std::min<std::chrono::milliseconds>(caRetry * 2, 60s);
        continue;
      }
      if (!lastCaError.empty()) spdlog::info("internal CA loaded");
    }
    issueDueLeaves();
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, kMaxIdle, [this] { return stopping_ || wantedChanged_; });
  }
}

// ---------------------------------------------------------------- ACME

std::vector<std::string> CertManager::acmeDueNames() {
  std::vector<std::string> due;
  std::lock_guard lock(mu_);
  const auto now = clock_.now();
  const auto mono = clock_.monotonic();
  for (const auto& [name, w] : wanted_) {
    if (w.mode != model::TlsMode::Auto) continue;
    if (isWildcard(name)) {
      acmeState_[name].lastError = "wildcard names cannot be ordered over HTTP-01; serving the internal certificate";
      continue;
    }
    if (auto it = acmeCerts_.find(name); it != acmeCerts_.end() && now < it->second.renewAt) continue;
    if (auto st = acmeState_.find(name); st != acmeState_.end() && mono < st->second.nextAttempt) continue;
    due.push_back(name);
  }
  return due;
}

void CertManager::recordFailure(const std::string& name, const Error& error) {
  std::chrono::milliseconds backoff;
  int failures;
  {
    std::lock_guard lock(mu_);
    AcmeState& st = acmeState_[name];
    failures = ++st.failures;
    backoff = options_.minBackoff;
    for (int i = 1; i < failures && backoff < options_.maxBackoff; ++i) backoff *= 2;
    backoff = std::min<std::chrono::milliseconds>(backoff, options_.maxBackoff);
    st.lastError = describe(error);
    st.nextAttempt = clock_.monotonic() + backoff;
    st.nextAttemptWall = clock_.now() + backoff;
  }
  spdlog::warn("acme: certificate for {} not obtained ({}); attempt {} failed, next in {} s; serving the internal "
               "certificate meanwhile",
               name, describe(error), failures, backoff.count() / 1000);
  // Shared so the other edges do not hammer the CA either; they adopt the
  // failure count, so the back-off keeps doubling whoever tries next.
  const json value = {{"failures", failures}, {"error", describe(error)}, {"node", options_.nodeId}};
  if (auto r = redis_.command({"SET", str(kBackoffPrefix) + name, value.dump(), "PX", millis(backoff)}); !r)
    spdlog::warn("acme: cannot share the back-off for {}: {}", name, r.error().message);
}

bool CertManager::releaseLock(const std::string& lockKey, const std::string& token) {
  auto r = redis_.command({"EVAL", kReleaseScript, "1", lockKey, token});
  if (!r || r.value().isError()) {
    spdlog::warn("acme: cannot release {} ({}); it expires by itself", lockKey,
                 r ? r.value().str : r.error().message);
    return false;
  }
  return true;
}

void CertManager::attemptOrder(const std::string& name) {
  const std::string backoffKey = str(kBackoffPrefix) + name;
  const std::string lockKey = str(kLockPrefix) + name;
  const std::string entryKey = str(kAcmePrefix) + name;

  // 1. Shared back-off: another edge failed recently.
  auto shared = redis_.pipeline({{"GET", backoffKey}, {"PTTL", backoffKey}});
  if (!shared) return recordFailure(name, shared.error());
  if (const auto& ttl = shared.value()[1]; ttl.type == redis::Reply::Type::Integer && ttl.integer > 0) {
    int failures = 0;
    std::string error;
    try {
      const json v = json::parse(shared.value()[0].str);
      failures = v.value("failures", 0);
      error = v.value("node", std::string()) + ": " + v.value("error", std::string());
    } catch (const std::exception&) {
    }
    std::lock_guard lock(mu_);
    AcmeState& st = acmeState_[name];
    st.failures = std::max(st.failures, failures);
    if (!error.empty()) st.lastError = error;
    st.nextAttempt = clock_.monotonic() + std::chrono::milliseconds(ttl.integer);
    st.nextAttemptWall = clock_.now() + std::chrono::milliseconds(ttl.integer);
    return;
  }

  // 2. The lock: one order per name across all edges.
  const std::string token = options_.nodeId + "/" + newId(clock_);
  auto taken = redis_.command({"SET", lockKey, token, "NX", "PX", millis(options_.lockTtl)});
  if (!taken) return recordFailure(name, taken.error());
  if (taken.value().isError())
    return recordFailure(name, Error::make(ErrorKind::Internal, "redis_command_error", taken.value().str));
  if (taken.value().isNil()) {
    // Another edge is ordering: its certificate arrives through the watch.
    auto pttl = redis_.command({"PTTL", lockKey});
    std::chrono::milliseconds wait = kLockRecheck;
    if (pttl && pttl.value().type == redis::Reply::Type::Integer && pttl.value().integer > 0)
      wait = std::min(wait, std::chrono::milliseconds(pttl.value().integer));
    std::lock_guard lock(mu_);
    AcmeState& st = acmeState_[name];
    st.nextAttempt = clock_.monotonic() + wait;
    st.nextAttemptWall = clock_.now() + wait;
    return;
  }

  // While we hold the lock, a failure writes the shared back-off first and
  // only then releases the lock, so no other edge slips in between.
  auto failLocked = [&](const Error& error, bool orderFailed) {
    if (orderFailed) ++ordersFailed_;
    recordFailure(name, error);
    releaseLock(lockKey, token);
  };

  // 3. Re-read: the previous holder may have finished just before we got it.
  auto stored = certs_.get(entryKey);
  if (stored) {
    auto decoded = decodeAcmeEntry(stored.value());
    if (decoded && clock_.now() < decoded.value().renewAt) {
      releaseLock(lockKey, token);
      std::lock_guard lock(mu_);
      acmeCerts_[name] = std::move(decoded.value());
      acmeState_.erase(name);
      publishLocked();
      return;
    }
  } else if (stored.error().kind != ErrorKind::NotFound) {
    return failLocked(stored.error(), false);
  }

  // 4. Order.
  ++ordersStarted_;
  spdlog::info("acme: ordering a certificate for {} from {}", name, options_.acme.directoryUrl);
  if (!acmeClient_) {
    auto accountKey = loadOrCreateAccountKey();
    if (!accountKey) return failLocked(accountKey.error(), true);
    acmeClient_ = std::make_unique<tls::AcmeClient>(options_.acme, std::move(accountKey.value()));
  }
  RedisHttp01Responder responder(redis_, lockKey, token, options_.lockTtl);
  auto result = acmeClient_->obtain({name}, responder);
  if (!result) return failLocked(result.error(), true);

  // 5. Store for every edge, and serve it here at once.
  const auto& cert = result.value().certificate;
  auto loaded = ServerCertificate::load(cert, "acme");
  if (!loaded) return failLocked(loaded.error(), true);
  std::uint64_t revision = 0;
  std::string storeError;
  auto sealed = tls::sealWithSecret(cert.keyPem, options_.secret, entryKey);
  if (!sealed) {
    storeError = sealed.error().message;
  } else {
    const json value = {{"chainPem", cert.certificatePem},
                        {"keySealed", sealed.value()},
                        {"notAfter", formatTime(loaded.value()->info().notAfter)},
                        {"orderedBy", options_.nodeId},
                        {"orderedAt", formatTime(clock_.now())}};
    auto put = certs_.put(entryKey, value.dump());
    if (put) revision = put.value();
    else storeError = put.error().message;
  }
  if (auto r = redis_.command({"DEL", backoffKey}); !r)
    spdlog::warn("acme: cannot clear the back-off for {}: {}", name, r.error().message);
  releaseLock(lockKey, token);
  spdlog::info("acme: obtained the certificate for {} (valid until {})", name,
               formatTime(loaded.value()->info().notAfter));
  std::lock_guard lock(mu_);
  AcmeCert& slot = acmeCerts_[name];
  if (slot.revision <= revision || revision == 0) {
    slot.renewAt = renewalPoint(loaded.value()->info());
    slot.cert = std::move(loaded.value());
    slot.revision = revision;
  }
  acmeState_.erase(name);
  if (!storeError.empty()) {
    // Served here; the other edges will order their own after the lock.
    acmeState_[name].lastError = "obtained but not stored in " + str(kBucket) + ": " + storeError;
    spdlog::error("acme: certificate for {} obtained but not stored: {}", name, storeError);
  }
  publishLocked();
}

void CertManager::acmeLoop() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (stopping_) return;
      // Orders wait for the CA (nothing is served before it) and for the
      // bucket's snapshot (its certificates must not be ordered again).
      if (!ca_ || !snapshotComplete_) {
        cv_.wait_for(lock, kMaxIdle, [this] { return stopping_ || (ca_ && snapshotComplete_); });
        continue;
      }
      acmeWake_ = false;
    }
    for (const auto& name : acmeDueNames()) {
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        if (!wanted_.contains(name)) continue;
      }
      attemptOrder(name);
    }
    std::unique_lock lock(mu_);
    // Sleep until the earliest back-off ends (bounded, so renewal deadlines
    // and a FakeClock are looked at regularly).
    std::chrono::nanoseconds wait = kMaxIdle;
    const auto mono = clock_.monotonic();
    for (const auto& [name, w] : wanted_) {
      if (w.mode != model::TlsMode::Auto) continue;
      if (auto st = acmeState_.find(name); st != acmeState_.end() && st->second.nextAttempt > mono)
        wait = std::min<std::chrono::nanoseconds>(wait, st->second.nextAttempt - mono);
    }
    cv_.wait_for(lock, std::max<std::chrono::nanoseconds>(wait, 10ms), [this] { return stopping_ || acmeWake_; });
  }
}

// ---------------------------------------------------------------- queries

std::string CertManager::caPem() const {
  std::lock_guard lock(mu_);
  return ca_ ? ca_->certificatePem : std::string();
}

Result<std::optional<std::string>> CertManager::challengeAnswer(const std::string& token) {
  // ACME tokens are base64url (RFC 8555 §8.3); anything else is not ours.
  if (token.empty() || token.size() > 256) return std::optional<std::string>();
  for (char c : token)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return std::optional<std::string>();
  auto r = redis_.command({"GET", str(kChallengePrefix) + token});
  if (!r) return r.error();
  if (r.value().type != redis::Reply::Type::String) return std::optional<std::string>();
  return std::optional<std::string>(r.value().str);
}

bool CertManager::hasTrustedCert(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto w = wanted_.find(name);
  if (w == wanted_.end()) return false;
  if (w->second.mode == model::TlsMode::Auto) return acmeValidLocked(name, clock_.now());
  return leaves_.contains(name);
}

nlohmann::ordered_json CertManager::status() const {
  std::lock_guard lock(mu_);
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  const auto mono = clock_.monotonic();
  for (const auto& [name, w] : wanted_) {
    nlohmann::ordered_json item;
    item["names"] = nlohmann::ordered_json::array({name});
    item["mode"] = model::tlsModeName(w.mode);
    if (auto it = published_.find(name); it != published_.end()) {
      const auto& info = it->second->info();
      item["issuer"] = info.issuerCommonName;
      item["notAfter"] = formatTime(info.notAfter);
      item["source"] = it->second->source();
    } else {
      item["issuer"] = nullptr;
      item["notAfter"] = nullptr;
      item["source"] = "none";
    }
    auto st = acmeState_.find(name);
    const bool auto_ = w.mode == model::TlsMode::Auto;
    item["lastError"] = auto_ && st != acmeState_.end() && !st->second.lastError.empty()
                            ? nlohmann::ordered_json(st->second.lastError)
                            : nlohmann::ordered_json(nullptr);
    item["nextAttemptAt"] = auto_ && st != acmeState_.end() && st->second.nextAttempt > mono
                                ? nlohmann::ordered_json(formatTime(st->second.nextAttemptWall))
                                : nlohmann::ordered_json(nullptr);
    if (!ca_ && !caError_.empty()) item["lastError"] = caError_;
    list.push_back(std::move(item));
  }
  return list;
}

}  // namespace proxyos::edge
