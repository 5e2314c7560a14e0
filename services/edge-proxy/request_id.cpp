#include "request_id.h"

#include <atomic>
#include <boost/beast/core/string.hpp>
#include <charconv>
#include <cstdint>
#include <random>

#include "string_view_compat.h"

namespace proxyos::edge {

namespace {

std::uint64_t processPrefix() {
  std::random_device rd;
  return (std::uint64_t{rd()} << 32) ^ rd();
}

const std::uint64_t kPrefix = processPrefix();
std::atomic<std::uint64_t> counter{0};

}  // namespace

std::string newRequestId() {
  char buf[16 + 1 + 16];
  // The prefix at fixed width, so the ids of one process line up in logs.
  std::uint64_t prefix = kPrefix;
  for (char* p = buf + 16; p != buf; prefix >>= 4) *--p = "0123456789abcdef"[prefix & 15];
  buf[16] = '-';
  const auto end = std::to_chars(buf + 17, buf + sizeof buf, counter.fetch_add(1, std::memory_order_relaxed), 16).ptr;
  return std::string(buf, end);
}

std::string requestIdFor(const Fields& headers) {
  // One scan rather than count() + find(). Two copies are as bad as none:
  // which one would the upstream see?
  bool seen = false;
  boost::beast::string_view value;
  for (const auto& f : headers) {
    if (!boost::beast::iequals(f.name_string(), toBeast(kRequestIdHeader))) continue;
    if (seen) return newRequestId();
    seen = true;
    value = f.value();
  }
  if (seen && isValidRequestId(toStd(value))) return std::string(value.data(), value.size());
  return newRequestId();
}

}  // namespace proxyos::edge
