#include "header_rules.h"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/container/small_vector.hpp>
#include <algorithm>
#include <string>

#include "string_view_compat.h"

namespace proxyos::edge {

namespace http = boost::beast::http;
using boost::beast::iequals;

namespace {

constexpr std::string_view kXForwardedFor = "X-Forwarded-For";
constexpr std::string_view kXForwardedProto = "X-Forwarded-Proto";
constexpr std::string_view kXForwardedHost = "X-Forwarded-Host";

// A name listed in Connection is removed, except these: dropping Host or
// Content-Length on a client's say-so would change how the upstream frames
// the message (request smuggling), and Upgrade is handled by the caller.
bool protectedFromConnection(boost::beast::string_view name, bool keepUpgrade) {
  return iequals(name, "host") || iequals(name, "content-length") || iequals(name, "connection") ||
         (keepUpgrade && iequals(name, "upgrade"));
}

}  // namespace

bool hasToken(std::string_view list, std::string_view token) {
  for (const auto& t : http::token_list{toBeast(list)})
    if (iequals(t, toBeast(token))) return true;
  return false;
}

bool isHopByHop(http::field name) {
  switch (name) {
    case http::field::connection:
    case http::field::keep_alive:
    case http::field::proxy_connection:
    case http::field::te:
    case http::field::trailer:
    case http::field::transfer_encoding:
    case http::field::upgrade:
    case http::field::proxy_authorization:
    case http::field::proxy_authenticate:
      return true;
    default:
      return false;
  }
}

void stripHopByHop(Fields& fields, bool keepUpgrade) {
  // Beast's equal_range() spans insertion order from the first to the last
  // match, other fields in between included, so fields are scanned in full
  // (a dozen or two per message). Names are collected first: erasing while
  // walking the list would invalidate the walk. The views point into the
  // Connection values, which are erased last. One scan finds everything:
  // most messages carry none of these fields or only Connection, and each
  // erase is a lookup of its own.
  boost::container::small_vector<boost::beast::string_view, 8> listed;
  boost::container::small_vector<http::field, 8> present;
  for (const auto& f : fields) {
    if (f.name() == http::field::connection)
      for (const auto& name : http::token_list{f.value()})
        if (!protectedFromConnection(name, keepUpgrade)) listed.push_back(name);
    if (isHopByHop(f.name()) && !(keepUpgrade && f.name() == http::field::upgrade)) present.push_back(f.name());
  }
  for (const auto& name : listed) fields.erase(name);
  // Connection last: `listed` points into its values.
  std::stable_partition(present.begin(), present.end(), [](http::field f) { return f != http::field::connection; });
  for (const auto f : present) fields.erase(f);
  if (keepUpgrade) fields.set(http::field::connection, "Upgrade");
}

namespace {

// All values of `name`, comma-joined, then `last` appended.
std::string joinValues(const Fields& fields, boost::beast::string_view name, std::string_view last) {
  std::string joined;
  for (const auto& f : fields) {
    if (!iequals(f.name_string(), name) || f.value().empty()) continue;
    if (!joined.empty()) joined += ", ";
    joined.append(f.value().data(), f.value().size());
  }
  if (!joined.empty()) joined += ", ";
  joined += last;
  return joined;
}

}  // namespace

void setForwardedHeaders(Fields& fields, std::string_view clientIp, std::string_view proto,
                         std::string_view host) {
  // Each set() and erase() is a case-insensitive tree lookup; clients rarely
  // send these fields, so one scan first lets the common case only insert.
  bool hasFor = false, hasProto = false, hasHost = false;
  for (const auto& f : fields) {
    hasFor = hasFor || iequals(f.name_string(), toBeast(kXForwardedFor));
    hasProto = hasProto || iequals(f.name_string(), toBeast(kXForwardedProto));
    hasHost = hasHost || iequals(f.name_string(), toBeast(kXForwardedHost));
  }
  if (hasFor)
    fields.set(toBeast(kXForwardedFor), joinValues(fields, toBeast(kXForwardedFor), clientIp));
  else
    fields.insert(toBeast(kXForwardedFor), toBeast(clientIp));
  if (hasProto) fields.erase(toBeast(kXForwardedProto));
  fields.insert(toBeast(kXForwardedProto), toBeast(proto));
  if (hasHost) fields.erase(toBeast(kXForwardedHost));
  if (!host.empty()) fields.insert(toBeast(kXForwardedHost), toBeast(host));
}

void appendVia(Fields& fields, std::string_view via) {
  if (via.empty()) return;
  if (fields.find(http::field::via) == fields.end())
    fields.insert(http::field::via, toBeast(via));
  else
    fields.set(http::field::via, joinValues(fields, "via", via));
}

void applyHeaderOps(Fields& fields, const model::HeaderOps& ops) {
  for (const auto& name : ops.remove) fields.erase(name);
  for (const auto& [name, value] : ops.set) fields.set(name, value);
}

bool isIdempotent(http::verb method) {
  switch (method) {
    case http::verb::get:
    case http::verb::head:
    case http::verb::options:
    case http::verb::put:
    case http::verb::delete_:
      return true;
    default:
      return false;
  }
}

}  // namespace proxyos::edge
