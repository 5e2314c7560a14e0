#pragma once
// The last applied config on disk, so an edge restarts and serves even while
// NATS is down (ARCHITECTURE.md §2, reload paragraph).
//
// File: $PROXYOS_DATA_DIR/edge-config.json, replaced atomically (temp file,
// fsync, rename, fsync of the directory): a crash mid-write leaves the old
// file, never a torn one. The content is the table's inputs
// (ConfigSnapshot), not the table: the system host comes from PROXYOS_URL at
// each start, and the table is rebuilt with today's code.
#include <memory>
#include <string>
#include <string_view>

#include "route_table.h"
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

/// The ConfigSource callback's body: publish first, then persist, so a slow
/// disk never delays a config change. A failed save is logged, not fatal: the
/// edge keeps serving, it only loses its restart fallback. Runs on the config
/// source's thread.
void applyTable(std::shared_ptr<const RouteTable> table, TableHolder& holder, const LastKnownGood* file);

}  // namespace proxyos::edge
