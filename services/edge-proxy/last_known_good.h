#pragma once
// The last applied config on disk, so an edge restarts and serves even while
// NATS is down (ARCHITECTURE.md §2, reload paragraph).
//
// File: $PROXYOS_DATA_DIR/edge-config.json, replaced atomically (temp file,
// fsync, rename, fsync of the directory): a crash mid-write leaves the old
// file, never a torn one. The content is the table's inputs
// (ConfigSnapshot), not the table: the system host comes from PROXYOS_URL at
// each start, and the table is rebuilt with today's code.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "route_table.h"
#include <thread>

#include "shared/core/clock.h"
#include "shared/core/error.h"
#include "table_holder.h"

namespace proxyos::edge {

/// The snapshot as the file's JSON document:
/// {"format":1,"revision":N,"providersRevision":M,"routes":[<route>...],
///  "providers":{"<id>":"<provider JSON as a string>"}}
std::string encodeSnapshot(const ConfigSnapshot& snapshot);
/// Strict inverse of encodeSnapshot(): unknown fields, a wrong format number
/// or a route that fails model validation are errors (kind Invalid, code
/// "corrupt_last_known_good", the message naming the field).
Result<ConfigSnapshot> decodeSnapshot(std::string_view text);

/// Reads and writes the last-known-good file. Stateless apart from the path,
/// so safe from any thread; save() is called from the config source's thread
/// only, so two saves never race on the temp file.
class LastKnownGood {
 public:
  /// `dataDir` is PROXYOS_DATA_DIR; it is created on the first save if missing.
  explicit LastKnownGood(std::string dataDir);

  const std::string& path() const { return path_; }
  /// Replaces the file atomically. Unavailable (with errno's text) on I/O failure.
  Status save(const ConfigSnapshot& snapshot) const;
  /// NotFound when there is no file; Invalid when it does not decode;
  /// Unavailable when it cannot be read.
  Result<ConfigSnapshot> load() const;

 private:
  std::string dir_;
  std::string path_;
};

/// Start-up: builds a table from the file and publishes it into `holder`, so
/// the edge is ready before NATS answers. On any error (NotFound: no file yet)
/// `holder` is left as it was and the error returned for the caller to log.
Status restoreLastKnownGood(const LastKnownGood& file, TableHolder& holder, const std::string& systemHost);

/// Saves applied tables on its own thread, coalesced: the first table at once,
/// then at most one file per `minInterval`, always the newest table submitted
/// (tables in between are skipped, never written out of order), and the
/// pending one on stop(). Why: a bulk import applies a table every ~100 ms,
/// and each save encodes and fsyncs the whole config (4 MB with 10,000
/// routes); done inline on the config source's thread it kept the edge busy
/// and a second 10,000-route table alive per build.
///
/// Threads: submit() from the config source's thread (any thread is fine);
/// the writer's own thread calls LastKnownGood::save(); stop() from the
/// owner. A pending table is held by its shared_ptr, so what is written is
/// always a complete table that was applied.
class LastKnownGoodWriter {
 public:
  LastKnownGoodWriter(const LastKnownGood& file, const Clock& clock,
                      std::chrono::milliseconds minInterval = std::chrono::seconds(1));
  ~LastKnownGoodWriter();
  LastKnownGoodWriter(const LastKnownGoodWriter&) = delete;
  LastKnownGoodWriter& operator=(const LastKnownGoodWriter&) = delete;

  void start();
  /// Queues `table` to be written, replacing one not written yet. Never
  /// waits for the disk.
  void submit(std::shared_ptr<const RouteTable> table);
  /// Writes the pending table, if any, then stops the thread. Idempotent;
  /// a table submitted after stop() is written by the next stop() call.
  void stop();
  /// Files written so far.
  std::uint64_t saves() const;

 private:
  void run();
  void write(const RouteTable& table);

  const LastKnownGood& file_;
  const Clock& clock_;
  const std::chrono::milliseconds minInterval_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<const RouteTable> pending_;
  bool stopping_ = false;
  std::uint64_t saves_ = 0;
  std::thread thread_;
};

/// The ConfigSource callback's body: publish first, then persist, so a slow
/// disk never delays a config change. A failed save is logged, not fatal: the
/// edge keeps serving, it only loses its restart fallback. Runs on the config
/// source's thread. This overload saves inline (tests, tools); the edge uses
/// the one taking a LastKnownGoodWriter.
void applyTable(std::shared_ptr<const RouteTable> table, TableHolder& holder, const LastKnownGood* file);
/// Publishes, then hands the table to `writer` (saved later, coalesced).
void applyTable(std::shared_ptr<const RouteTable> table, TableHolder& holder, LastKnownGoodWriter& writer);

}  // namespace proxyos::edge
