#pragma once
// Internal to the ACME client (shared/tls): the pure pieces of RFC 8555 — the
// flattened JWS every request carries, problem documents (RFC 7807) and
// Retry-After — apart from the network so they are unit tested.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "shared/core/error.h"
#include "shared/tls/pki.h"

namespace proxyos::tls::acme {

/// The flattened JWS JSON serialization {"protected","payload","signature"}
/// of RFC 8555 §6.2: alg ES256, `nonce`, `url`, and `kid` when it is not
/// empty, else the key's public `jwk` (newAccount). `payloadJson` nullopt
/// means POST-as-GET: the payload is the empty string, not "{}".
Result<std::string> signJws(const PrivateKey& key, std::string_view url, std::string_view nonce, std::string_view kid,
                            const std::optional<std::string>& payloadJson);

/// An ACME problem document (RFC 8555 §6.7), e.g.
/// type "urn:ietf:params:acme:error:badNonce".
struct Problem {
  std::string type;
  std::string detail;
  int status = 0;  // the document's own "status", 0 when absent

  /// "type: detail" with the "urn:ietf:params:acme:error:" prefix kept, so
  /// messages can be searched for the RFC's names.
  std::string describe() const;
  bool is(std::string_view acmeError) const;  // is("badNonce")
};

/// The problem in `body` when it is a JSON object with a string "type";
/// nullopt otherwise (the Content-Type is not trusted: some servers send
/// application/json).
std::optional<Problem> parseProblem(std::string_view body);

/// Retry-After (RFC 9110 §10.2.3): delay-seconds or an IMF-fixdate, relative
/// to `now`. nullopt when absent or unparseable; never negative.
std::optional<std::chrono::milliseconds> parseRetryAfter(std::string_view value,
                                                         std::chrono::system_clock::time_point now);

}  // namespace proxyos::tls::acme
