#pragma once
// A NATS JetStream key-value bucket. Writes are the change events: a watcher
// sees every put and delete in order, so config needs no separate bus.
//
// Outcomes have kinds (STYLE.md, "client errors have kinds"):
//   NotFound           get() of a missing or deleted key
//   Conflict           create() of a key that exists (a uniqueness claim is held)
//   PreconditionFailed update()/removeIfRevision() with a stale revision (CAS lost)
//   Unavailable        NATS is down or timed out: retry later
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <cstdint>
#include <string>
#include <vector>

#include "shared/core/clock.h"
#include "shared/store/kv_store.h"
#include "shared/store/kv_watcher.h"
#include "shared/store/nats_connection.h"
#include "shared/store/retry_policy.h"

namespace proxyos::store {

struct KvBucketConfig {
  std::string name;      // e.g. proxyos-routes
  int replicas = 1;      // PROXYOS_NATS_REPLICAS
  int history = 1;
  std::string description;
};

/// Retries (retry_policy.h) and the time source of a bucket and its watchers.
struct KvBucketTiming {
  /// Reads, and writes that provably did not happen, during a leader election.
  RetryPolicy retry{};
  /// Binding or creating the bucket: creating an R3 bucket with a node down
  /// can time out and yet succeed later, so creation is retried for longer.
  RetryPolicy create{std::chrono::seconds(30), std::chrono::milliseconds(250), std::chrono::seconds(2)};
  /// JetStream request timeout of one stream-create request.
  std::chrono::milliseconds createTimeout{10000};
  KvWatchOptions watch{};
  const Clock* clock = &SystemClock::instance();
  Sleeper* sleeper = &RealSleeper::instance();
};

/// Thread-safe. The bucket is bound (or created) lazily on first use and again
/// after a failure, so a service started before NATS heals by itself.
///
/// Through a JetStream leader election (clustered NATS), reads are retried on
/// any Unavailable outcome and writes only on NATS_NO_RESPONDERS, which proves
/// the write was not stored; a write that timed out is answered Unavailable
/// at once, since retrying it could turn the caller's own success into a
/// Conflict or PreconditionFailed (retry_policy.h). Each call may therefore
/// block up to `timing.retry.budget` plus one request timeout.
class KvBucket final : public KvStore {
 public:
  KvBucket(std::shared_ptr<NatsConnection> conn, KvBucketConfig config, KvBucketTiming timing = {});
  ~KvBucket() override;
  KvBucket(const KvBucket&) = delete;
  KvBucket& operator=(const KvBucket&) = delete;

  const std::string& name() const { return config_.name; }
  /// Binds or creates the bucket now; ok when it is usable. Quick when it is
  /// already bound (readiness probes call it).
  Status open();

  Result<KvEntry> get(const std::string& key) override;
  Result<uint64_t> put(const std::string& key, const std::string& value) override;
  /// Create-only: Conflict when the key holds a value.
  Result<uint64_t> create(const std::string& key, const std::string& value) override;
  /// Compare-and-set: PreconditionFailed unless the key's revision is `expected`.
  Result<uint64_t> update(const std::string& key, const std::string& value, uint64_t expected) override;
  /// Writes a delete marker (watchers see it).
  Status remove(const std::string& key) override;
  /// Compare-and-set delete: PreconditionFailed unless the key's revision is `expected`.
  Status removeIfRevision(const std::string& key, uint64_t expected) override;
  /// The latest live (not deleted) entry of every key matching `filter`
  /// (NATS subject wildcards: "route.*", ">"), read through a watcher.
  Result<std::vector<KvEntry>> snapshot(const std::string& filter) override;
  /// The bucket's latest revision (its stream's last sequence); 0 when empty.
  Result<uint64_t> lastRevision() override;
  /// Watches keys matching `filter`: the latest entry per key (deletes
  /// included), then SnapshotComplete, then live changes (kv_watcher.h).
  Result<std::unique_ptr<KvWatcher>> watch(const std::string& filter = ">");

  /// Attempts repeated by the retry policy since construction (metrics, tests).
  std::uint64_t retries() const { return retries_.load(); }

 private:
  /// Binds the bucket, creating it when missing (retried per `timing_.create`).
  Result<kvStore*> store();
  Result<kvStore*> bindOrCreate();
  /// An existing bucket with fewer replicas than `config_.replicas` is raised
  /// to that count (made in the cluster while PROXYOS_NATS_REPLICAS was
  /// missing; a single server's data moves by backup and restore); one with more
  /// is left as it is: a service left at the default 1 must not take copies
  /// away from a cluster. Failures are logged; the bucket stays usable.
  void raiseReplicas();
  /// Runs `attempt()` under the read rule of retry_policy.h.
  template <class Attempt>
  auto read(const char* what, Attempt&& attempt) -> decltype(attempt());
  /// Runs `attempt(WriteAttempt&)` under the write rule; the attempt records
  /// whether its request left and how it ended.
  template <class Attempt>
  auto write(const char* what, Attempt&& attempt) -> decltype(attempt(std::declval<WriteAttempt&>()));
  template <class Out>
  Out noteRetries(Out out, int retries, const char* what);

  std::shared_ptr<NatsConnection> conn_;
  KvBucketConfig config_;
  KvBucketTiming timing_;
  std::mutex mu_;        // guards kv_; held while binding
  kvStore* kv_ = nullptr;
  std::atomic<std::uint64_t> retries_{0};
};

}  // namespace proxyos::store
