#pragma once
// Following a NATS JetStream KV bucket: its current state, then every change.
#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "shared/core/clock.h"
#include "shared/core/error.h"
#include "shared/store/kv_store.h"
#include "shared/store/nats_connection.h"

namespace proxyos::store {

struct KvWatchOptions {
  /// The server sends an idle heartbeat when it had nothing to deliver for
  /// this long (>= 100 ms).
  std::chrono::milliseconds heartbeat{1000};
  /// No message and no heartbeat for this long (two heartbeats missed): the
  /// consumer is taken for lost (its node died, or the connection moved to
  /// another node and the consumer cannot reach it) and recreated. A false
  /// alarm costs one consumer creation, nothing else.
  std::chrono::milliseconds stallAfter{2000};
  /// Timeout of one consumer-create request. Short, and retried every 250 ms:
  /// when the node that died was the JetStream meta leader, creations fail
  /// until a new one is elected, and a long timeout would only add to the wait.
  std::chrono::milliseconds createTimeout{1000};
};

/// Pull-based watcher of one bucket: call next() from one thread;
/// lastContact() and recreations() may be read from any thread.
///
/// Two ephemeral push consumers, both run like NATS.c's "ordered consumers"
/// (no acks, one delivery, a 1 s idle heartbeat, flow control, in-order
/// delivery checked with the consumer sequence), but driven here over a plain
/// subscription on an inbox instead of js_SubscribeSync(Ordered): NATS.c 3.4
/// swallows heartbeats inside the library and reports a missed one only to
/// the connection's async error handler, two heartbeat intervals late. Seeing
/// every heartbeat is what makes the watch's age (lastContact) honest and the
/// stall deadline ours.
///
///  1. Snapshot: DeliverLastPerSubject — the latest entry per key (delete
///     markers included), then SnapshotComplete once the consumer's pending
///     count reaches 0 (as NATS.c's KV watcher does). A stall during the
///     snapshot is an error: the caller recreates the watcher and takes a
///     fresh snapshot, whose result replaces what it had.
///  2. Live: a start-sequence consumer from the revision after the highest
///     one delivered. nats-server 2.9 recomputes a last-per-subject consumer's
///     pending count by building a map of every key in the bucket
///     (SubjectsState) as it keeps catching up with new writes, which with
///     20,000 keys cost the server ~45 % of a CPU during a route import and
///     made each write slower as the bucket grew. A start-sequence consumer has
///     no such cost. The entries are the same: every change after the
///     snapshot, in order. The snapshot delivered the last entry of every
///     matching key, so every later write to one has a higher revision.
///
/// Recovery of the live consumer, invisible to the caller (nothing lost,
/// nothing repeated): whenever nothing (message or heartbeat) arrived for
/// `stallAfter`, a delivery skips a consumer sequence (messages dropped while
/// the connection moved to another node), a heartbeat names a consumer
/// sequence other than the last one seen, the server reports the consumer
/// gone, or the subscription fails, a new consumer starts right after the
/// last revision delivered. The old one is deleted without waiting (and the
/// server drops it anyway once nobody listens). A node's death is thus
/// absorbed within `stallAfter` plus the time to reconnect and create the
/// consumer (measured on a 3-node cluster: 0-4 s after the write; see
/// docs/architecture.md). While NATS cannot be reached, next() keeps answering Idle and
/// retries; lastContact() tells how long it has been.
///
/// Creating a consumer needs the JetStream meta leader; when the node that
/// died also led the meta group, creations fail until a new one is elected
/// (4-9 s in nats-server 2.9). So while the live phase has no consumer, the
/// watcher reads what was stored after the last revision delivered straight
/// from the stream, by sequence (a direct get of the next message matching
/// the filter: any replica answers it, no meta leader needed), every 250 ms
/// between consumer-creation attempts. Those are exactly the entries the new
/// consumer would have delivered (it starts after them), so the caller sees
/// the same sequence either way. A bucket without AllowDirect (not made by
/// NATS.c >= 3.4) simply waits for the consumer.
class KvWatcher {
 public:
  struct Event {
    enum class Type { Entry, SnapshotComplete, Idle };
    Type type = Type::Idle;
    KvEntry entry;  // when type == Entry
  };

  /// Use KvBucket::watch().
  KvWatcher(std::shared_ptr<NatsConnection> conn, std::string bucket, std::string filter, const Clock& clock,
            KvWatchOptions options);
  ~KvWatcher();
  KvWatcher(const KvWatcher&) = delete;
  KvWatcher& operator=(const KvWatcher&) = delete;

  /// Creates the snapshot consumer; fails (Unavailable) when NATS does not answer.
  Status start();
  /// Waits up to `timeout`; Idle when nothing arrived. An error only while
  /// the snapshot is incomplete (see above).
  Result<Event> next(std::chrono::milliseconds timeout);
  /// Unsubscribes. From the thread that calls next(), or once it is done.
  void stop();

  /// When NATS last showed this watch is alive: a message, a heartbeat, or a
  /// consumer created. Clock::MonoTime{} before any.
  Clock::MonoTime lastContact() const { return Clock::MonoTime{Clock::MonoTime::duration{lastContact_.load()}}; }
  /// Live consumers recreated after a stall or gap (for logs and tests).
  std::uint64_t recreations() const { return recreations_.load(); }
  /// Entries read from the stream by sequence while there was no live consumer.
  std::uint64_t entriesReadDirectly() const { return directReads_.load(); }

 private:
  enum class Phase { Snapshot, Live };
  Status createConsumer();
  void dropConsumer();
  /// The live consumer is unusable: drop it; the next call makes a new one.
  void lose(const std::string& why);
  void touch();
  /// Handles a status message (heartbeat, flow control, consumer gone);
  /// false when the consumer must be replaced.
  bool onStatus(natsMsg* msg, const char* status);
  /// Live phase without a consumer: the first stored entry after
  /// lastRevision_ matching the filter, read from the stream; nullopt when
  /// there is none (or the stream could not be asked).
  std::optional<KvEntry> readStored();
  /// A KV entry from a stream message (a consumer's delivery or a direct get).
  KvEntry entryOf(natsMsg* msg, uint64_t revision, int64_t timestampNanos) const;

  std::shared_ptr<NatsConnection> conn_;
  jsCtx* js_ = nullptr;  // with createTimeout as its request timeout
  const std::string bucket_;
  const std::string stream_;   // KV_<bucket>
  const std::string prefix_;   // $KV.<bucket>.
  const std::string filter_;   // key filter
  const Clock& clock_;
  const KvWatchOptions options_;

  Phase phase_ = Phase::Snapshot;
  natsSubscription* sub_ = nullptr;
  std::string consumer_;              // the current consumer's name
  std::uint64_t consumerSeq_ = 0;     // last consumer sequence delivered by it
  std::uint64_t lastRevision_ = 0;    // highest revision delivered
  bool snapshotDone_ = false;         // the snapshot consumer reached pending 0
  bool lost_ = false;                 // inside a stall (logged once)
  Clock::MonoTime nextAttempt_{};     // earliest time to recreate after a failure
  Clock::MonoTime nextRead_{};        // earliest time to read the stream again once caught up
  int readBurst_ = 0;                 // entries read since the last consumer attempt
  std::uint64_t readWhileLost_ = 0;   // entries read since the consumer was lost (for the log)
  std::atomic<Clock::MonoTime::rep> lastContact_{0};
  std::atomic<std::uint64_t> recreations_{0};
  std::atomic<std::uint64_t> directReads_{0};
};

}  // namespace proxyos::store
