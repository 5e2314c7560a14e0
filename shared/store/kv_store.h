#pragma once
// The key-value operations service logic depends on. Production: KvBucket
// (NATS JetStream). Unit tests: MemoryKvStore. Error kinds as in kv_bucket.h.
#include <cstdint>
#include <string>
#include <vector>

#include "shared/core/clock.h"
#include "shared/core/error.h"

namespace proxyos::store {

struct KvEntry {
  enum class Op { Put, Delete, Purge };
  std::string key;
  std::string value;
  uint64_t revision = 0;  // sequence of this write, increasing across the whole bucket
  Op op = Op::Put;
  Clock::WallTime created{};
};

class KvStore {
 public:
  virtual ~KvStore() = default;
  /// NotFound for a missing or deleted key.
  virtual Result<KvEntry> get(const std::string& key) = 0;
  virtual Result<uint64_t> put(const std::string& key, const std::string& value) = 0;
  /// Create-only: Conflict when the key holds a value.
  virtual Result<uint64_t> create(const std::string& key, const std::string& value) = 0;
  /// Compare-and-set: PreconditionFailed unless the key's revision is `expected`.
  virtual Result<uint64_t> update(const std::string& key, const std::string& value, uint64_t expected) = 0;
  /// Writes a delete marker.
  virtual Status remove(const std::string& key) = 0;
  /// Compare-and-set delete: PreconditionFailed unless the key's revision is `expected`.
  virtual Status removeIfRevision(const std::string& key, uint64_t expected) = 0;
  /// Latest live entry of every key matching a NATS subject filter ("route.*", ">").
  virtual Result<std::vector<KvEntry>> snapshot(const std::string& filter) = 0;
  /// The latest revision written to the store; 0 when nothing was.
  virtual Result<uint64_t> lastRevision() = 0;
};

/// Turns an arbitrary string into characters allowed in a KV key
/// ([-/_=.a-zA-Z0-9]): base64url, so distinct inputs stay distinct.
std::string encodeKeyPart(const std::string& text);

/// True when `key` matches a NATS subject filter (tokens split on '.', '*' one
/// token, '>' the rest).
bool subjectMatches(const std::string& filter, const std::string& key);

}  // namespace proxyos::store
