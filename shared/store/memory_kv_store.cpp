#include "shared/store/memory_kv_store.h"

namespace proxyos::store {

namespace {
std::vector<std::string> tokens(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    auto dot = s.find('.', start);
    out.push_back(s.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return out;
}
Error unavailable() { return Error::make(ErrorKind::Unavailable, "nats_unavailable", "store unavailable (injected)"); }
}  // namespace

bool subjectMatches(const std::string& filter, const std::string& key) {
  const auto f = tokens(filter), k = tokens(key);
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] == ">") return k.size() > i;
    if (i >= k.size()) return false;
    if (f[i] != "*" && f[i] != k[i]) return false;
  }
  return f.size() == k.size();
}

bool MemoryKvStore::shouldFail() {
  if (failWrites_ <= 0) return false;
  if (skipWrites_ > 0) {
    --skipWrites_;
    return false;
  }
  --failWrites_;
  return true;
}

void MemoryKvStore::failWrites(int n, int skip) {
  std::lock_guard lock(mu_);
  failWrites_ = n;
  skipWrites_ = skip;
}

std::vector<std::string> MemoryKvStore::keys() {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [k, e] : entries_)
    if (e.op == KvEntry::Op::Put) out.push_back(k);
  return out;
}

uint64_t MemoryKvStore::write(const std::string& key, const std::string& value, KvEntry::Op op) {
  entries_[key] = KvEntry{key, value, ++seq_, op, clock_.now()};
  return seq_;
}

Result<KvEntry> MemoryKvStore::get(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.op != KvEntry::Op::Put)
    return Error::make(ErrorKind::NotFound, "not_found", key + " not found");
  return it->second;
}

Result<uint64_t> MemoryKvStore::put(const std::string& key, const std::string& value) {
  std::lock_guard lock(mu_);
  if (shouldFail()) return unavailable();
  return write(key, value, KvEntry::Op::Put);
}

Result<uint64_t> MemoryKvStore::create(const std::string& key, const std::string& value) {
  std::lock_guard lock(mu_);
  if (shouldFail()) return unavailable();
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.op == KvEntry::Op::Put)
    return Error::make(ErrorKind::Conflict, "kv_key_exists", key + " already exists");
  return write(key, value, KvEntry::Op::Put);
}

Result<uint64_t> MemoryKvStore::update(const std::string& key, const std::string& value, uint64_t expected) {
  std::lock_guard lock(mu_);
  if (shouldFail()) return unavailable();
  auto it = entries_.find(key);
  const uint64_t current = it == entries_.end() ? 0 : it->second.revision;
  if (current != expected)
    return Error::make(ErrorKind::PreconditionFailed, "kv_wrong_revision", key + " changed");
  return write(key, value, KvEntry::Op::Put);
}

Status MemoryKvStore::remove(const std::string& key) {
  std::lock_guard lock(mu_);
  if (shouldFail()) return unavailable();
  write(key, "", KvEntry::Op::Delete);
  return okStatus();
}

Status MemoryKvStore::removeIfRevision(const std::string& key, uint64_t expected) {
  std::lock_guard lock(mu_);
  if (shouldFail()) return unavailable();
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.revision != expected)
    return Error::make(ErrorKind::PreconditionFailed, "kv_wrong_revision", key + " changed");
  write(key, "", KvEntry::Op::Delete);
  return okStatus();
}

Result<std::vector<KvEntry>> MemoryKvStore::snapshot(const std::string& filter) {
  std::lock_guard lock(mu_);
  std::vector<KvEntry> out;
  for (const auto& [k, e] : entries_)
    if (e.op == KvEntry::Op::Put && subjectMatches(filter, k)) out.push_back(e);
  return out;
}

Result<uint64_t> MemoryKvStore::lastRevision() {
  std::lock_guard lock(mu_);
  return seq_;
}

}  // namespace proxyos::store
