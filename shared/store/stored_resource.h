#pragma once
// Reading resources kept as JSON under "<prefix><id>" keys (routes, SSO
// providers): the id and revision come from the key and the KV entry, never
// from the stored value, so they cannot disagree with the store.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <vector>

#include "shared/store/kv_store.h"

namespace proxyos::store {

/// `decode(json) -> Result<T>`; T has `id` and `revision`. A missing key is
/// `notFound`; a value that no longer decodes is Internal (logged).
template <class T, class Decode>
Result<T> readStored(KvStore& kv, const std::string& prefix, const std::string& id, const std::string& what,
                     Decode&& decode, const Error& notFound) {
  auto entry = kv.get(prefix + id);
  if (!entry) return entry.error().kind == ErrorKind::NotFound ? notFound : entry.error();
  Result<T> item = decode(entry.value().value);
  if (!item) {
    spdlog::error("stored {} {} does not decode: {}", what, id, item.error().message);
    return Error::make(ErrorKind::Internal, "corrupt_" + what, "stored " + what + " " + id + " does not decode");
  }
  item.value().id = id;
  item.value().revision = entry.value().revision;
  return item;
}

/// Every resource under `prefix`, sorted by id (ids sort by creation time);
/// entries that no longer decode are skipped and logged, never fatal.
template <class T, class Decode>
Result<std::vector<T>> listStored(KvStore& kv, const std::string& prefix, const std::string& what, Decode&& decode) {
  auto entries = kv.snapshot(prefix + "*");
  if (!entries) return entries.error();
  std::vector<T> out;
  for (const auto& e : entries.value()) {
    Result<T> item = decode(e.value);
    if (!item) {
      spdlog::error("skipping stored {} {} that does not decode: {}", what, e.key, item.error().message);
      continue;
    }
    item.value().id = e.key.substr(prefix.size());
    item.value().revision = e.revision;
    out.push_back(std::move(item.value()));
  }
  std::sort(out.begin(), out.end(), [](const T& a, const T& b) { return a.id < b.id; });
  return out;
}

}  // namespace proxyos::store
