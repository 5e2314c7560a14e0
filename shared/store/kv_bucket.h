#pragma once
// A NATS JetStream key-value bucket. Writes are the change events: a watcher
// sees every put and delete in order, so config needs no separate bus.
//
// Outcomes have kinds (STYLE.md, "client errors have kinds"):
//   NotFound           get() of a missing or deleted key
//   Conflict           create() of a key that exists (a uniqueness claim is held)
//   PreconditionFailed update()/removeIfRevision() with a stale revision (CAS lost)
//   Unavailable        NATS is down or timed out: retry later
#include <chrono>
#include <memory>
#include <mutex>
#include <cstdint>
#include <string>
#include <vector>

#include "shared/core/clock.h"
#include "shared/store/kv_store.h"
#include "shared/store/nats_connection.h"

namespace proxyos::store {

struct KvBucketConfig {
  std::string name;      // e.g. proxyos-routes
  int replicas = 1;      // PROXYOS_NATS_REPLICAS
  int history = 1;
  std::string description;
};

class KvWatcher;

/// Thread-safe. The bucket is bound (or created) lazily on first use and again
/// after a failure, so a service started before NATS heals by itself.
class KvBucket final : public KvStore {
 public:
  KvBucket(std::shared_ptr<NatsConnection> conn, KvBucketConfig config);
  ~KvBucket() override;
  KvBucket(const KvBucket&) = delete;
  KvBucket& operator=(const KvBucket&) = delete;

  const std::string& name() const { return config_.name; }
  /// Binds or creates the bucket now; ok when it is usable.
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
  /// included), then SnapshotComplete, then live changes.
  Result<std::unique_ptr<KvWatcher>> watch(const std::string& filter = ">");

 private:
  Result<kvStore*> store();
  void forget(natsStatus s);  // drop the handle after a failure that may mean the bucket is gone

  std::shared_ptr<NatsConnection> conn_;
  KvBucketConfig config_;
  std::mutex mu_;
  kvStore* kv_ = nullptr;
};

/// Pull-based watcher: call next() from one thread.
///
/// The initial snapshot comes from NATS.c's KV watcher (an ordered consumer
/// delivering the last entry per key). Once it is complete, that consumer is
/// replaced by a plain ordered consumer starting right after the last entry
/// seen: nats-server 2.9 recomputes a last-per-subject consumer's pending
/// count by building a map of every key in the bucket (SubjectsState) as it
/// keeps catching up with new writes, which with 20,000 keys cost the server
/// ~45 % of a CPU during a route import and made each write slower as the
/// bucket grew. A start-sequence consumer has no such cost. The entries are
/// the same: every change after the snapshot, in order.
class KvWatcher {
 public:
  struct Event {
    enum class Type { Entry, SnapshotComplete, Idle };
    Type type = Type::Idle;
    KvEntry entry;  // when type == Entry
  };
  /// `js` and `subjectPrefix` ("$KV.<bucket>.") and `filter` are those of
  /// `w`; without `js` the NATS.c watcher is kept after the snapshot.
  explicit KvWatcher(kvWatcher* w, jsCtx* js = nullptr, std::string subjectPrefix = {}, std::string filter = {})
      : w_(w), js_(js), prefix_(std::move(subjectPrefix)), filter_(std::move(filter)) {}
  ~KvWatcher();
  KvWatcher(const KvWatcher&) = delete;
  KvWatcher& operator=(const KvWatcher&) = delete;

  /// Waits up to `timeout`; Idle when nothing arrived. Reconnection after a
  /// NATS restart is handled by the library: the watcher catches up by itself.
  Result<Event> next(std::chrono::milliseconds timeout);
  void stop();

 private:
  /// After SnapshotComplete: replaces w_ by a start-sequence consumer.
  Status switchToLiveConsumer();

  kvWatcher* w_;
  jsCtx* js_;
  std::string prefix_;
  std::string filter_;
  natsSubscription* live_ = nullptr;  // set once the snapshot is complete
  std::uint64_t lastRevision_ = 0;    // highest revision delivered
};


}  // namespace proxyos::store
