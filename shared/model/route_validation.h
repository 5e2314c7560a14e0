#pragma once
// The document-level rules of a Route (ARCHITECTURE.md §4). Kept apart from
// decoding so the route-registry service can re-validate a route it built
// itself (e.g. after applying a PATCH) with exactly the same rules.
#include <string>
#include <string_view>

#include "shared/model/json_reader.h"
#include "shared/model/route.h"

namespace proxyos::model {

/// Normalizes `r` in place (lower-case domains, canonical upstream URLs,
/// default name) and records every rule violation in `errors`, with field
/// paths under `pathPrefix`. A field that already has an error in `errors`
/// (its decoding failed) is skipped, and so are the cross-field rules that
/// depend on it, so one mistake yields one error.
void normalizeAndValidateRoute(Route& r, const RouteValidationContext& ctx, const std::string& pathPrefix,
                               ErrorCollector& errors);

/// True for an RFC 7230 token, the grammar of a header field name.
bool isHttpToken(std::string_view s);
/// Headers the edge itself manages (hop-by-hop ones per RFC 7230 §6.1, Host,
/// Content-Length): they decide routing and framing, so neither a route's
/// header edits nor an SSO provider's header lists may name them.
bool isManagedHeader(std::string_view name);

}  // namespace proxyos::model
