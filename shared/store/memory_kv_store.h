#pragma once
#include <map>
#include <mutex>

#include "shared/store/kv_store.h"

namespace proxyos::store {

/// In-memory KvStore with the same outcomes as KvBucket, for unit tests.
/// failWrites() injects Unavailable into chosen writes (to test rollback).
class MemoryKvStore final : public KvStore {
 public:
  explicit MemoryKvStore(const Clock& clock) : clock_(clock) {}
  Result<KvEntry> get(const std::string& key) override;
  Result<uint64_t> put(const std::string& key, const std::string& value) override;
  Result<uint64_t> create(const std::string& key, const std::string& value) override;
  Result<uint64_t> update(const std::string& key, const std::string& value, uint64_t expected) override;
  Status remove(const std::string& key) override;
  Status removeIfRevision(const std::string& key, uint64_t expected) override;
  Result<std::vector<KvEntry>> snapshot(const std::string& filter) override;
  Result<uint64_t> lastRevision() override;

  /// After `skip` more successful writes, the next `n` writes fail with Unavailable.
  void failWrites(int n, int skip = 0);
  /// Live keys, for assertions.
  std::vector<std::string> keys();

 private:
  uint64_t write(const std::string& key, const std::string& value, KvEntry::Op op);
  bool shouldFail();
  const Clock& clock_;
  std::mutex mu_;
  std::map<std::string, KvEntry> entries_;  // latest entry per key, delete markers included
  uint64_t seq_ = 0;
  int failWrites_ = 0;
  int skipWrites_ = 0;
};

}  // namespace proxyos::store
