#include "config_source.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string_view>
#include <utility>

#include "shared/model/json_reader.h"

namespace proxyos::edge {

namespace {

// How long a reader thread blocks in KvWatcher::next() before it looks at the
// stop flag again: bounds stop()'s latency, costs ten wake-ups a second.
constexpr std::chrono::milliseconds kPollInterval{100};

constexpr std::string_view kRoutePrefix = "route.";

}  // namespace

NatsConfigSource::NatsConfigSource(std::shared_ptr<store::NatsConnection> conn, const Clock& clock,
                                   NatsConfigSourceOptions options)
    : conn_(std::move(conn)), clock_(clock), options_(std::move(options)) {}

NatsConfigSource::~NatsConfigSource() { stop(); }

Status NatsConfigSource::start(TableCallback onTable) {
  std::lock_guard lock(mu_);
  if (started_) return Error::make(ErrorKind::Internal, "already_started", "the config source was already started");
  started_ = true;
  onTable_ = std::move(onTable);
  startedAt_ = clock_.monotonic();
  // The threads block on mu_ until this returns, so they see onTable_ set.
  routesThread_ = std::thread([this] { watchLoop(Feed::Routes); });
  providersThread_ = std::thread([this] { watchLoop(Feed::Providers); });
  builderThread_ = std::thread([this] { builderLoop(); });
  return okStatus();
}

void NatsConfigSource::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread* t : {&routesThread_, &providersThread_, &builderThread_})
    if (t->joinable()) t->join();
}

ConfigSourceStats NatsConfigSource::stats() const {
  ConfigSourceStats s;
  s.tablesBuilt = tablesBuilt_.load();
  s.entriesRejected = entriesRejected_.load();
  s.buildFailures = buildFailures_.load();
  s.watchFailures = watchFailures_.load();
  std::lock_guard lock(mu_);
  s.revision = routes_.revision;
  s.snapshotComplete = routesComplete_ && providersComplete_;
  return s;
}

ConfigFreshness NatsConfigSource::freshness() const {
  ConfigFreshness out;
  const auto now = clock_.monotonic();
  const auto routes = routesContact_.load();
  const auto providers = providersContact_.load();
  Clock::MonoTime since = startedAt_;
  if (routes != 0 && providers != 0) {
    since = Clock::MonoTime{Clock::MonoTime::duration{std::min(routes, providers)}};
    out.lastContactAt = clock_.now() - std::chrono::duration_cast<Clock::WallTime::duration>(now - since);
  }
  out.ageSeconds = std::max(0.0, std::chrono::duration<double>(now - since).count());
  return out;
}

bool NatsConfigSource::pause(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopping_; });
}

void NatsConfigSource::markDirty() {
  const auto now = clock_.monotonic();
  if (!dirty_) firstPending_ = now;
  dirty_ = true;
  lastChange_ = now;
  cv_.notify_all();
}

void NatsConfigSource::watchLoop(Feed feed) {
  const bool routes = feed == Feed::Routes;
  const std::string& name = routes ? options_.routesBucket : options_.providersBucket;
  // Binding creates the bucket if it does not exist yet (same config as its
  // owner uses), so a fresh install's edge becomes ready with an empty table
  // instead of waiting for the owning service's first write.
  store::KvBucket bucket(conn_, {name, options_.replicas, 1,
                                 routes ? "ProxyOS routes and domain claims" : "ProxyOS SSO providers"});
  std::unique_ptr<store::KvWatcher> watcher;  // declared after `bucket`: destroyed first
  FeedState staging;  // a (re)created watcher's snapshot, applied whole once complete
  bool staged = false;
  bool failing = false;

  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    if (!watcher) {
      auto w = bucket.watch(">");
      if (!w) {
        ++watchFailures_;
        // Once per outage at warn level: NATS being down is expected while
        // the last-known-good table serves.
        if (!failing) spdlog::warn("cannot watch {}: {}; retrying", name, w.error().message);
        failing = true;
        if (!pause(options_.retryDelay)) return;
        continue;
      }
      if (failing) spdlog::info("watching {} again", name);
      failing = false;
      watcher = std::move(w.value());
      staging = FeedState{};
      staged = true;
    }

    auto ev = watcher->next(kPollInterval);
    // A recreated watcher starts from nothing: the contact time only moves forward.
    auto& contact = routes ? routesContact_ : providersContact_;
    const auto seen = watcher->lastContact().time_since_epoch().count();
    if (seen > contact.load()) contact.store(seen);
    if (!ev) {
      ++watchFailures_;
      spdlog::warn("watch of {} failed: {}; recreating it", name, ev.error().message);
      watcher.reset();
      if (!pause(options_.retryDelay)) return;
      continue;
    }
    const store::KvWatcher::Event& event = ev.value();
    if (event.type == store::KvWatcher::Event::Type::Idle) continue;

    std::lock_guard lock(mu_);
    FeedState& current = live(feed);
    if (event.type == store::KvWatcher::Event::Type::Entry) {
      if (staged) {
        applyEntry(feed, event.entry, staging, current);
      } else {
        applyEntry(feed, event.entry, current, current);
        markDirty();
      }
      continue;
    }
    // SnapshotComplete: the whole bucket is in. Replacing the state (rather
    // than merging) drops keys deleted or purged while no watcher ran.
    staging.revision = std::max(staging.revision, current.revision);
    current = std::move(staging);
    staging = FeedState{};
    staged = false;
    (routes ? routesComplete_ : providersComplete_) = true;
    spdlog::info("{}: snapshot complete at revision {}", name, current.revision);
    markDirty();
  }
}

void NatsConfigSource::applyEntry(Feed feed, const store::KvEntry& entry, FeedState& target,
                                  const FeedState& live) {
  target.revision = std::max(target.revision, entry.revision);
  const bool put = entry.op == store::KvEntry::Op::Put;
  const bool staging = &target != &live;

  if (feed == Feed::Routes) {
    if (!entry.key.starts_with(kRoutePrefix)) return;  // claim.*: only the revision counts
    const std::string id = entry.key.substr(kRoutePrefix.size());
    if (!put) {
      target.routes.erase(id);
      return;
    }
    auto route = model::parseRoute(entry.value, {});
    if (!route) {
      ++entriesRejected_;
      const auto previous = live.routes.find(id);
      const bool keep = previous != live.routes.end();
      spdlog::error("{} revision {} does not decode ({}); {}", entry.key, entry.revision, route.error().message,
                    keep ? "keeping its previous version" : "skipping it");
      if (keep && staging) target.routes[id] = previous->second;
      return;
    }
    // The key is the identity (as in the registry); the revision is the
    // entry's, never stored in the value (docs/architecture.md).
    route.value().id = id;
    route.value().revision = entry.revision;
    target.routes[id] = std::make_shared<const model::Route>(std::move(route.value()));
    return;
  }

  if (!entry.key.starts_with(options_.providerKeyPrefix)) return;
  const std::string id = entry.key.substr(options_.providerKeyPrefix.size());
  if (!put) {
    target.providers.erase(id);
    return;
  }
  // Decoded strictly here so a provider the table could not use never
  // replaces a good version; the table decodes the stored JSON again.
  if (auto provider = model::parseSsoProvider(entry.value); !provider) {
    ++entriesRejected_;
    const auto previous = live.providers.find(id);
    const bool keep = previous != live.providers.end();
    spdlog::error("{} revision {} in {} does not decode ({}); {}", entry.key, entry.revision,
                  options_.providersBucket, provider.error().message, keep ? "keeping its previous version" : "skipping it");
    if (keep && staging) target.providers[id] = previous->second;
    return;
  }
  target.providers[id] = entry.value;
}

void NatsConfigSource::builderLoop() {
  bool delivered = false;
  std::unique_lock lock(mu_);
  for (;;) {
    // Never a table before both initial snapshots are in (STYLE.md trap 5).
    cv_.wait(lock, [this] { return stopping_ || (routesComplete_ && providersComplete_ && dirty_); });
    if (stopping_) return;
    if (delivered) {
      // Coalesce a burst: wait for a quiet gap, bounded by maxDelay after the
      // first pending change so a steady trickle still gets applied.
      for (;;) {
        const auto now = clock_.monotonic();
        const auto deadline = std::min(lastChange_ + options_.quiet, firstPending_ + options_.maxDelay);
        if (stopping_ || now >= deadline) break;
        cv_.wait_for(lock, deadline - now);
      }
      if (stopping_) return;
    }

    ConfigSnapshot snapshot;
    snapshot.routes.reserve(routes_.routes.size());
    for (const auto& [id, route] : routes_.routes) snapshot.routes.push_back(route);
    snapshot.providersJson = providers_.providers;
    snapshot.revision = routes_.revision;
    snapshot.providersRevision = providers_.revision;
    dirty_ = false;
    lock.unlock();

    // Built without the lock: readers keep folding in changes meanwhile, and
    // those mark the state dirty again for the next round.
    auto table = RouteTable::build(std::move(snapshot), options_.systemHost);
    if (table) {
      spdlog::info("route table revision {} built: {} routes, {} providers", table.value()->revision(),
                   table.value()->routeCount(), table.value()->inputs().providersJson.size());
      ++tablesBuilt_;
      onTable_(std::move(table.value()));
      delivered = true;
    } else {
      ++buildFailures_;
      spdlog::error("route table not built, the previous one keeps serving: {}", table.error().message);
    }
    lock.lock();
  }
}

}  // namespace proxyos::edge
