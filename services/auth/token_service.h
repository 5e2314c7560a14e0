#pragma once
// API tokens over the proxyos-tokens bucket, and their verification.
//
// A token is "pxat_<id>.<secret>": `token.<id>` holds the ApiToken fields plus
// "secretHash" = sha256Hex(secret). The secret is 32 random bytes, so a fast
// hash is enough (no dictionary to guess from) and keeps verification cheap on
// every API call; scrypt is for low-entropy passwords. The secret itself is
// returned once by create() and stored nowhere.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shared/core/clock.h"
#include "shared/model/api_token.h"
#include "shared/session/principal.h"
#include "shared/store/kv_store.h"

namespace proxyos::auth {

std::string tokenKey(const std::string& id);

/// What create() returns: the token and the bearer string, shown once.
struct CreatedToken {
  model::ApiToken token;
  std::string secret;  // "pxat_<id>.<secret>"
};

/// Issues, lists, revokes and verifies API tokens. Thread-safe as the store is.
class TokenService final : public session::TokenVerifier {
 public:
  TokenService(store::KvStore& kv, const Clock& clock) : kv_(kv), clock_(clock) {}

  /// `role` must be a model::isValidRoleName() (422 at "role"); `expiresInDays`
  /// 1-3650 or nullopt for never (422 at "expiresInDays").
  Result<CreatedToken> create(const std::string& name, const std::string& role, const std::string& creatorUserId,
                              std::optional<int64_t> expiresInDays);
  /// Sorted by creation (ids sort by time). Never a secret or hash.
  Result<std::vector<model::ApiToken>> list();
  /// 404 `token_not_found`.
  Status remove(const std::string& id);

  /// The token's principal (userId = creator, username "token:<name>"). A
  /// malformed, unknown, revoked, expired or wrong token is nullopt, never an
  /// exception; a store that cannot answer is Unavailable (fail closed).
  /// Records lastUsedAt at most once a minute, best effort.
  Result<std::optional<session::Principal>> verify(const std::string& bearerToken) override;

 private:
  store::KvStore& kv_;
  const Clock& clock_;
};

}  // namespace proxyos::auth
