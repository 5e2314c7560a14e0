#include "last_known_good.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include <nlohmann/json.hpp>

#include "shared/model/json_reader.h"

namespace proxyos::edge {

namespace {

constexpr std::uint64_t kFormat = 1;
constexpr const char* kFileName = "edge-config.json";

Error corrupt(const std::string& message) {
  return Error::make(ErrorKind::Invalid, "corrupt_last_known_good", "last-known-good config: " + message);
}

Error ioError(const std::string& what, int err) {
  return Error::make(ErrorKind::Unavailable, "last_known_good_io", what + ": " + std::strerror(err));
}

// write() may write less than asked (signals, quotas); loop until done.
bool writeAll(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// Makes the rename itself durable: without it a power cut can bring back the
// old directory entry even though rename() returned.
void fsyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

std::string encodeSnapshot(const ConfigSnapshot& snapshot) {
  // The same bytes as building one nlohmann document and dump()ing it, but
  // one route at a time: a 10,000-route document as a JSON tree is tens of
  // MiB of small allocations the allocator keeps after they are freed.
  std::string out;
  out.reserve(64 + snapshot.routes.size() * 256);
  out += "{\"format\":";
  out += std::to_string(kFormat);
  out += ",\"revision\":";
  out += std::to_string(snapshot.revision);
  out += ",\"providersRevision\":";
  out += std::to_string(snapshot.providersRevision);
  out += ",\"routes\":[";
  bool first = true;
  for (const auto& route : snapshot.routes) {
    if (!first) out += ',';
    first = false;
    out += model::toJson(route).dump();
  }
  out += "],\"providers\":{";
  first = true;
  for (const auto& [id, json] : snapshot.providersJson) {
    if (!first) out += ',';
    first = false;
    out += nlohmann::json(id).dump();
    out += ':';
    out += nlohmann::json(json).dump();
  }
  out += "}}";
  return out;
}

Result<ConfigSnapshot> decodeSnapshot(std::string_view text) {
  auto document = model::parseJsonObject(text);
  if (!document) return corrupt(document.error().message);
  const nlohmann::json& j = document.value();

  ConfigSnapshot out;
  model::ErrorCollector errors;
  model::JsonObjectReader in(j, "", errors);
  std::uint64_t format = 0;
  if (!in.readUint64("format", format) && !errors.hasErrorAt("format"))
    errors.add("format", "required", "is required");
  in.readUint64("revision", out.revision);
  in.readUint64("providersRevision", out.providersRevision);
  in.readStringMap("providers", out.providersJson);
  const bool hasRoutes = in.has("routes");
  in.finish();
  if (!errors.empty()) return corrupt(errors.toError().message);
  if (format != kFormat) return corrupt("format " + std::to_string(format) + " is not supported (expected 1)");
  if (!hasRoutes) return corrupt("routes: is required");
  const nlohmann::json& routes = j.at("routes");
  if (!routes.is_array()) return corrupt("routes: expected an array");

  out.routes.reserve(routes.size());
  for (std::size_t i = 0; i < routes.size(); ++i) {
    auto route = model::decodeRoute(routes[i], {}, "routes[" + std::to_string(i) + "]");
    if (!route) return corrupt(route.error().message);
    out.routes.push_back(std::move(route.value()));
  }
  return out;
}

LastKnownGood::LastKnownGood(std::string dataDir)
    : dir_(dataDir.empty() ? "." : std::move(dataDir)), path_(dir_ + "/" + kFileName) {}

Status LastKnownGood::save(const ConfigSnapshot& snapshot) const {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Error::make(ErrorKind::Unavailable, "last_known_good_io", "create " + dir_ + ": " + ec.message());

  const std::string body = encodeSnapshot(snapshot);
  // One writer (the config source thread), but the pid keeps two edges that
  // share a data directory by mistake from writing into each other's temp file.
  const std::string tmp = path_ + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ioError("open " + tmp, errno);
  if (!writeAll(fd, body) || ::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return ioError("write " + tmp, err);
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return ioError("close " + tmp, err);
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return ioError("rename " + tmp + " to " + path_, err);
  }
  fsyncDirectory(dir_);
  return okStatus();
}

Result<ConfigSnapshot> LastKnownGood::load() const {
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return Error::make(ErrorKind::NotFound, "no_last_known_good", "no last-known-good config at " + path_);
    return ioError("open " + path_, errno);
  }
  std::string content;
  char buf[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return ioError("read " + path_, err);
    }
    if (n == 0) break;
    content.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  auto snapshot = decodeSnapshot(content);
  if (!snapshot) {
    Error e = snapshot.error();
    e.message = path_ + ": " + e.message;
    return e;
  }
  return snapshot;
}

Status restoreLastKnownGood(const LastKnownGood& file, TableHolder& holder, const std::string& systemHost) {
  auto snapshot = file.load();
  if (!snapshot) return snapshot.error();
  auto table = RouteTable::build(std::move(snapshot.value()), systemHost);
  if (!table) {
    Error e = table.error();
    e.message = file.path() + ": " + e.message;
    return e;
  }
  spdlog::info("serving last-known-good config revision {} ({} routes) from {}", table.value()->revision(),
               table.value()->routeCount(), file.path());
  holder.publish(std::move(table.value()));
  return okStatus();
}

LastKnownGoodWriter::LastKnownGoodWriter(const LastKnownGood& file, const Clock& clock,
                                         std::chrono::milliseconds minInterval)
    : file_(file), clock_(clock), minInterval_(minInterval) {}

LastKnownGoodWriter::~LastKnownGoodWriter() { stop(); }

void LastKnownGoodWriter::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

void LastKnownGoodWriter::submit(std::shared_ptr<const RouteTable> table) {
  if (!table) return;
  std::shared_ptr<const RouteTable> replaced;  // freed outside the lock
  {
    std::lock_guard lock(mu_);
    replaced = std::exchange(pending_, std::move(table));
  }
  cv_.notify_all();
}

void LastKnownGoodWriter::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Never started, or a table submitted after the thread left: write it here.
  std::shared_ptr<const RouteTable> last;
  {
    std::lock_guard lock(mu_);
    last = std::move(pending_);
  }
  if (last) write(*last);
}

std::uint64_t LastKnownGoodWriter::saves() const {
  std::lock_guard lock(mu_);
  return saves_;
}

void LastKnownGoodWriter::write(const RouteTable& table) {
  const auto s = file_.save(table.inputs());
  std::lock_guard lock(mu_);
  if (!s) {
    spdlog::error("could not save last-known-good config: {}", s.error().message);
    return;
  }
  ++saves_;
}

void LastKnownGoodWriter::run() {
  std::unique_lock lock(mu_);
  bool wrote = false;
  Clock::MonoTime lastWrite{};
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || pending_ != nullptr; });
    // At most one file per minInterval: during a bulk import a new table
    // comes every ~100 ms, and each file is the whole config (4 MB for
    // 10,000 routes) plus two fsyncs. Waiting costs nothing in safety: the
    // file only ever holds some complete applied table, and the newest one
    // is written at the latest minInterval after it was applied (or at stop).
    while (wrote && !stopping_) {
      const auto now = clock_.monotonic();
      if (now >= lastWrite + minInterval_) break;
      cv_.wait_for(lock, lastWrite + minInterval_ - now);
    }
    std::shared_ptr<const RouteTable> table = std::move(pending_);
    if (!table) return;  // stopping with nothing left to write
    lock.unlock();
    write(*table);
    table.reset();
    lock.lock();
    wrote = true;
    lastWrite = clock_.monotonic();
  }
}

void applyTable(std::shared_ptr<const RouteTable> table, TableHolder& holder, LastKnownGoodWriter& writer) {
  if (!table) return;
  holder.publish(table);
  writer.submit(std::move(table));
}

void applyTable(std::shared_ptr<const RouteTable> table, TableHolder& holder, const LastKnownGood* file) {
  if (!table) return;
  holder.publish(table);
  if (file == nullptr) return;
  if (auto s = file->save(table->inputs()); !s)
    spdlog::error("could not save last-known-good config: {}", s.error().message);
}

}  // namespace proxyos::edge
