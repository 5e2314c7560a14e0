#pragma once
// The dashboard's static files (PROXYOS_DASHBOARD_DIR), read into memory once
// at start: the dashboard is a few hundred KiB of built assets, and serving
// from memory means no file I/O on an I/O thread, no path ever reaching the
// file system (so no traversal), and one shared body per file. A new
// dashboard build is picked up by restarting the edge.
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "shared/core/error.h"

namespace proxyos::edge {

struct StaticFile {
  std::shared_ptr<const std::string> body;
  std::string contentType;
  std::string etag;  // "\"<sha256 prefix>\""
};

class DashboardFiles {
 public:
  /// Reads every regular file under `dir` (dot-files skipped, symlinks not
  /// followed). Fails (kind Invalid, naming PROXYOS_DASHBOARD_DIR) when the
  /// directory is missing, has no index.html or holds more than `maxBytes`.
  static Result<DashboardFiles> load(const std::string& dir, std::size_t maxBytes = 64u << 20);
  /// No directory configured: a built-in page saying so, at "/" only.
  static DashboardFiles placeholder();

  /// The file for a URL path ("/" means "/index.html"). A path that names no
  /// file and has no extension in its last segment is a client-side route of
  /// the single-page app: it gets index.html. nullptr otherwise.
  const StaticFile* find(std::string_view path) const;
  std::size_t size() const { return files_.size(); }

 private:
  std::map<std::string, StaticFile, std::less<>> files_;  // "/index.html" -> file
};

/// Content-Type by file extension (text types with charset=utf-8).
std::string contentTypeFor(std::string_view path);

}  // namespace proxyos::edge
