#pragma once
// Header rewriting between client and upstream (ARCHITECTURE.md §2 step 5):
// hop-by-hop removal (RFC 9110 §7.6.1), X-Forwarded-*, Via, and a route's
// requestHeaders/responseHeaders. Pure functions over Beast's field
// container, applied in place to the parsed message that is then serialized
// onward, so no header is copied twice.
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>
#include <string_view>

#include "header_arena.h"
#include "shared/model/route.h"

namespace proxyos::edge {

/// Removes the hop-by-hop fields — Connection, Keep-Alive, Proxy-Connection,
/// TE, Trailer, Transfer-Encoding (the serializer re-frames the body),
/// Upgrade, Proxy-Authorization, Proxy-Authenticate — and every field named
/// in Connection. With `keepUpgrade` (a tunnel is being negotiated) Upgrade
/// survives and Connection is reset to "Upgrade".
void stripHopByHop(Fields& fields, bool keepUpgrade);

/// True for the fixed hop-by-hop fields that stripHopByHop() removes
/// (Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding,
/// Upgrade, Proxy-Authorization, Proxy-Authenticate); names listed in
/// Connection are the caller's to check.
bool isHopByHop(boost::beast::http::field name);

/// X-Forwarded-For: `clientIp` appended to what the client sent (several
/// X-Forwarded-For lines are joined first); X-Forwarded-Proto and
/// X-Forwarded-Host replaced (Host is the original host, passed through).
void setForwardedHeaders(Fields& fields, std::string_view clientIp, std::string_view proto,
                         std::string_view host);

/// Appends `via` ("1.1 proxyos") to Via, after any earlier proxies.
void appendVia(Fields& fields, std::string_view via);

/// A route's header edits: every name in `remove` first, then `set`
/// (replacing all copies).
void applyHeaderOps(Fields& fields, const model::HeaderOps& ops);

/// GET, HEAD, OPTIONS, PUT, DELETE: the methods that may be retried
/// on another upstream when nothing was sent yet.
bool isIdempotent(boost::beast::http::verb method);

/// True when a comma-separated header value holds `token` (case-insensitive),
/// e.g. hasToken("keep-alive, Upgrade", "upgrade").
bool hasToken(std::string_view list, std::string_view token);

}  // namespace proxyos::edge
