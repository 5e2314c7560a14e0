#pragma once
// Where the edge's route tables come from. The edge depends on the
// ConfigSource interface (STYLE.md "Interfaces at the edges of the world");
// production watches NATS KV, tests can hand tables in directly.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "route_table.h"
#include "shared/core/clock.h"
#include "shared/core/error.h"
#include "shared/store/kv_bucket.h"
#include "shared/store/nats_connection.h"

namespace proxyos::edge {

/// Delivers complete, fully built route tables, one at a time, in order.
/// The first table arrives only once the source's whole initial state is in
/// (never a partial table: STYLE.md trap 5).
class ConfigSource {
 public:
  /// Runs on the source's own thread, never concurrently with itself. It must
  /// not call stop(). Typically applyTable() (last_known_good.h).
  using TableCallback = std::function<void(std::shared_ptr<const RouteTable>)>;

  virtual ~ConfigSource() = default;
  /// Starts delivering and returns at once (NATS may well be down).
  virtual Status start(TableCallback onTable) = 0;
  /// Stops; no callback runs after it returns. Idempotent.
  virtual void stop() = 0;
};

struct NatsConfigSourceOptions {
  std::string systemHost;  // PROXYOS_URL's host, reserved for the system route
  int replicas = 1;        // PROXYOS_NATS_REPLICAS, used if the edge has to create a bucket
  std::string routesBucket = "proxyos-routes";
  std::string providersBucket = "proxyos-sso-providers";
  /// Keys of the providers bucket that hold a provider: <prefix><id>.
  std::string providerKeyPrefix = "provider.";
  /// Coalescing of live changes: build once no change arrived for `quiet`,
  /// or `maxDelay` after the first pending change, whichever comes first.
  std::chrono::milliseconds quiet{20};
  std::chrono::milliseconds maxDelay{100};
  /// Pause before retrying a watch that could not be set up (NATS down).
  std::chrono::milliseconds retryDelay{500};
};

/// Counters for /status and /metrics. Readable from any thread.
struct ConfigSourceStats {
  std::uint64_t tablesBuilt = 0;      // tables handed to the callback
  std::uint64_t entriesRejected = 0;  // KV entries that failed to decode or validate
  std::uint64_t buildFailures = 0;    // tables that failed to build (old one kept)
  std::uint64_t watchFailures = 0;    // watches that could not be set up or broke (retried)
  std::uint64_t revision = 0;         // highest proxyos-routes revision seen
  bool snapshotComplete = false;      // both buckets' initial snapshots are in
};

/// How old the config is: when NATS last showed that both watches are alive
/// (a change or an idle heartbeat, sent every second by the server while the
/// watch works), so an edge cut off from NATS — or whose watch broke without
/// an error — shows a growing age instead of looking current.
struct ConfigFreshness {
  /// The older of the two watches' last contact; nullopt before both had one.
  std::optional<Clock::WallTime> lastContactAt;
  /// Seconds since lastContactAt, or since start() when there was none yet
  /// (the config served is at least that old).
  double ageSeconds = 0;
};

/// Watches `proxyos-routes` and `proxyos-sso-providers` (ARCHITECTURE.md §1,
/// docs/architecture.md for the key layout) and builds a RouteTable after the
/// initial snapshots and after each coalesced burst of live changes.
///
/// Threads: one reader thread per bucket blocks in KvWatcher::next() and
/// folds entries into the decoded state under `mu_`; one builder thread waits
/// for changes, copies the state under `mu_` (pointers to the shared routes,
/// so the readers wait microseconds, not a deep copy of 10,000 routes),
/// builds the table without the lock and runs the callback. Request threads never touch this class.
///
/// Entries: `route.<id>` is decoded strictly (model::parseRoute); one that
/// fails is logged and counted, and the route keeps its last good version if
/// it had one (a bad write never takes the table, or that route, down).
/// `claim.*` keys only move the revision. A watcher that fails (it can only
/// during its snapshot) is recreated and its fresh snapshot replaces that
/// bucket's state as a whole. Once live, a watcher survives NATS restarts and
/// the death of the node it uses by itself, resuming after the last revision
/// it delivered (kv_watcher.h); freshness() tells how long ago it last heard
/// from NATS.
class NatsConfigSource final : public ConfigSource {
 public:
  NatsConfigSource(std::shared_ptr<store::NatsConnection> conn, const Clock& clock, NatsConfigSourceOptions options);
  ~NatsConfigSource() override;
  NatsConfigSource(const NatsConfigSource&) = delete;
  NatsConfigSource& operator=(const NatsConfigSource&) = delete;

  Status start(TableCallback onTable) override;
  void stop() override;
  ConfigSourceStats stats() const;
  ConfigFreshness freshness() const;

 private:
  enum class Feed { Routes, Providers };
  /// One bucket's decoded content.
  struct FeedState {
    /// Routes feed: id -> route. Shared with the snapshots and tables built
    /// from it: an entry is replaced by a new object when its route changes,
    /// never modified, so a build copies pointers, not routes.
    std::map<std::string, SharedRoutes::Ptr> routes;
    std::map<std::string, std::string> providers;  // Providers feed: id -> JSON
    std::uint64_t revision = 0;
  };

  void watchLoop(Feed feed);
  void builderLoop();
  /// Folds one entry into `target` (the live state, or a snapshot being
  /// staged, with `live` as the fallback for entries that fail). Caller holds mu_.
  void applyEntry(Feed feed, const store::KvEntry& entry, FeedState& target, const FeedState& live);
  /// Records a change for the builder. Caller holds mu_.
  void markDirty();
  /// Waits up to `d` or until stop(); false when stopping.
  bool pause(std::chrono::milliseconds d);
  FeedState& live(Feed feed) { return feed == Feed::Routes ? routes_ : providers_; }

  std::shared_ptr<store::NatsConnection> conn_;
  const Clock& clock_;
  const NatsConfigSourceOptions options_;
  TableCallback onTable_;  // set before the threads start, read by the builder only

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool started_ = false;
  FeedState routes_;
  FeedState providers_;
  bool routesComplete_ = false;
  bool providersComplete_ = false;
  bool dirty_ = false;
  Clock::MonoTime firstPending_{};
  Clock::MonoTime lastChange_{};

  std::atomic<std::uint64_t> tablesBuilt_{0};
  std::atomic<std::uint64_t> entriesRejected_{0};
  std::atomic<std::uint64_t> buildFailures_{0};
  std::atomic<std::uint64_t> watchFailures_{0};
  // KvWatcher::lastContact() of each feed (steady-clock ticks, 0: none yet),
  // copied by its reader thread after every next(), i.e. at least every 100 ms.
  std::atomic<Clock::MonoTime::rep> routesContact_{0};
  std::atomic<Clock::MonoTime::rep> providersContact_{0};
  Clock::MonoTime startedAt_{};  // set by start(), before the threads exist

  std::thread routesThread_;
  std::thread providersThread_;
  std::thread builderThread_;
};

}  // namespace proxyos::edge
