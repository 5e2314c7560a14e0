#pragma once
// The provider test (POST /api/sso-providers/{id}/test and /test): one real
// forward-auth GET from this service's own network position, as the edge
// would send it, then a verdict on what came back. Split in two so the
// judgement is a pure function (assessProbe) that unit tests drive as a
// table, while the network part (ForwardAuthClient) is a seam.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ssl/context.hpp>
#include <nlohmann/json.hpp>

#include "shared/core/clock.h"
#include "shared/core/error.h"
#include "shared/model/sso_provider.h"

namespace proxyos::sso {

/// What the caller may send along, to see what the provider answers for a
/// logged-in user (e.g. the provider's own session cookie).
struct ProbeCredentials {
  std::string cookie;         // the Cookie header's value
  std::string authorization;  // the Authorization header's value
  bool empty() const { return cookie.empty() && authorization.empty(); }
};

/// The (optional) body of a test request.
struct ProbeRequest {
  ProbeCredentials credentials;
  std::optional<model::SsoProvider> provider;  // the unsaved variant's provider
};

/// Strict decoding of {"cookie","authorization","provider"}; "" is {}. With
/// `unsaved`, `provider` is required and validated with field paths under
/// "provider."; otherwise it is refused (the saved provider is tested).
Result<ProbeRequest> parseProbeRequest(std::string_view body, bool unsaved);

/// What one forward-auth GET observed, before any judgement.
struct ProbeFacts {
  bool reachable = false;  // an HTTP response arrived
  int status = 0;          // 0 when unreachable
  std::int64_t latencyMs = 0;
  std::vector<std::string> headersReturned;  // names as the provider spelled them, first spelling of each
  std::string redirectLocation;              // Location of a 3xx, else ""
  std::string error;                         // why it was unreachable, else ""
};

/// A configured header the provider sent under another spelling. HTTP names
/// are case-insensitive, so it works; the hint only saves a puzzled operator.
struct CaseHint {
  std::string configured;
  std::string returned;
};

enum class Verdict { Ok, Warning, Error };
/// "ok" | "warning" | "error".
std::string verdictName(Verdict verdict);

/// The test's answer: the facts, how they compare with the configuration,
/// and a verdict with one sentence for the operator.
struct ProbeReport {
  ProbeFacts facts;
  std::vector<std::string> missingHeaders;  // of authResponseHeaders; compared on a 2xx only
  std::vector<CaseHint> caseHints;          // on a 2xx only
  Verdict verdict = Verdict::Error;
  std::string message;
};

/// Judges `facts` against `provider`'s configuration. Pure. Nothing below
/// 500 passes blindly: only a redirect or 401 to an anonymous request, or a
/// 2xx with every configured header to one with credentials, is "ok".
ProbeReport assessProbe(const model::SsoProvider& provider, const ProbeFacts& facts, bool withCredentials);

/// {reachable, status, latencyMs, headersReturned, missingHeaders, caseHints,
///  redirectLocation, error, verdict, message}
nlohmann::ordered_json toJson(const ProbeReport& report);

/// Sends the forward-auth GET. Implementations never throw and always return
/// within the provider's timeoutMs (plus scheduling noise).
class ForwardAuthClient {
 public:
  virtual ~ForwardAuthClient() = default;
  virtual ProbeFacts fetch(const model::SsoProvider& provider, const ProbeCredentials& credentials) = 0;
};

/// Boost.Beast over Asio, one connection per probe: http, and https verified
/// against the system CA store with SNI and a host name check. DNS, connect,
/// TLS, send and receive share one budget of the provider's timeoutMs.
/// Blocks the calling thread; safe to call from several threads at once.
class BeastForwardAuthClient final : public ForwardAuthClient {
 public:
  explicit BeastForwardAuthClient(const Clock& clock);
  ProbeFacts fetch(const model::SsoProvider& provider, const ProbeCredentials& credentials) override;

 private:
  const Clock& clock_;
  boost::asio::ssl::context tls_;  // read-only after construction: shared by concurrent probes
};

/// The whole test: fetch, then assess.
ProbeReport probeProvider(ForwardAuthClient& client, const model::SsoProvider& provider,
                          const ProbeCredentials& credentials);

}  // namespace proxyos::sso
