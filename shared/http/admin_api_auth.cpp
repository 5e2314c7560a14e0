#include "shared/http/admin_api_auth.h"

namespace proxyos::http {

AdminApiAuth::AdminApiAuth(const CommonConfig& config, const Clock& clock)
    : redis_({config.redis}),
      sessions_(redis_),
      keys_(config.secret, config.previousSecrets),
      verifier_(keys_, sessions_, clock),
      userTokens_(config.authUrl.origin(), clock),
      tokens_(keys_, clock, userTokens_),
      guard_(verifier_, tokens_, config.publicUrl.origin()) {}

}  // namespace proxyos::http
