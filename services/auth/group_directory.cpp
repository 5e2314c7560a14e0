#include "group_directory.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "shared/core/time_format.h"
#include "shared/store/cas_loop.h"
#include "shared/model/user.h"

namespace proxyos::auth {

namespace {

Error notFound(const std::string& name) {
  return Error::make(ErrorKind::NotFound, "group_not_found", "no group named " + name);
}

std::string encode(const model::Group& g) {
  auto j = model::toJson(g);
  j.erase("revision");  // the KV entry's, never stored in the value
  return j.dump();
}

Result<model::Group> decodeEntry(const store::KvEntry& e) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(e.value);
  } catch (const nlohmann::json::parse_error&) {
    return Error::make(ErrorKind::Internal, "corrupt_group", "stored group " + e.key + " is not JSON");
  }
  auto g = model::decodeGroup(j);
  if (!g) return Error::make(ErrorKind::Internal, "corrupt_group", "stored group " + e.key + ": " + g.error().message);
  g.value().revision = e.revision;
  return g;
}

}  // namespace

std::string groupKey(const std::string& name) { return "group." + store::encodeKeyPart(name); }

Result<model::Group> GroupDirectory::create(model::Group draft) {
  // Re-checked here: the key is derived from the name, so it must be canonical.
  const auto normalized = model::normalizeGroupName(draft.name);
  if (!normalized)
    return Error::invalid("name", "name: must be 1-64 characters of a-z, 0-9, '.', '_' and '-'", "invalid_group");
  draft.name = *normalized;
  draft.createdAt = draft.updatedAt = formatTime(clock_.now());
  auto rev = kv_.create(groupKey(draft.name), encode(draft));
  if (!rev) {
    if (rev.error().kind == ErrorKind::Conflict)
      return Error{ErrorKind::Conflict, "group_exists", "a group named " + draft.name + " already exists", "name", {}};
    return rev.error();
  }
  draft.revision = rev.value();
  return draft;
}

Result<model::Group> GroupDirectory::get(const std::string& name) {
  const auto normalized = model::normalizeGroupName(name);
  if (!normalized) return notFound(name);
  auto entry = kv_.get(groupKey(*normalized));
  if (!entry) return entry.error().kind == ErrorKind::NotFound ? notFound(*normalized) : entry.error();
  auto g = decodeEntry(entry.value());
  if (!g) spdlog::error("{}", g.error().message);
  return g;
}

Result<std::vector<model::Group>> GroupDirectory::list() {
  auto entries = kv_.snapshot("group.*");
  if (!entries) return entries.error();
  std::vector<model::Group> out;
  for (const auto& e : entries.value()) {
    auto g = decodeEntry(e);
    if (!g) {
      spdlog::error("skipping {}", g.error().message);
      continue;
    }
    out.push_back(std::move(g.value()));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

Status GroupDirectory::remove(const std::string& name, std::optional<uint64_t> ifMatch) {
  return store::casLoop(
      "group " + name, ifMatch, [&] { return get(name); }, [](const model::Group& g) { return g.revision; },
      [&](const model::Group& cur) -> Status { return kv_.removeIfRevision(groupKey(cur.name), cur.revision); });
}

Result<bool> GroupDirectory::exists(const std::string& name) {
  const auto normalized = model::normalizeGroupName(name);
  if (!normalized) return false;
  auto entry = kv_.get(groupKey(*normalized));
  if (entry) return true;
  if (entry.error().kind == ErrorKind::NotFound) return false;
  return entry.error();
}

}  // namespace proxyos::auth
