#include "shared/tls/acme_client.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "shared/crypto/base64url.h"
#include "shared/tls/acme_http.h"
#include "shared/tls/acme_jws.h"

namespace proxyos::tls {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kBadNonceRetries = 3;

Error unreachable(std::string message) {
  return Error::make(ErrorKind::Unavailable, "acme_unreachable", std::move(message));
}
Error protocolError(std::string message) {
  return Error::make(ErrorKind::Unavailable, "acme_protocol", std::move(message));
}
Error invalidError(std::string message) { return Error::make(ErrorKind::Invalid, "acme_invalid", std::move(message)); }
Error rejected(const acme::Problem& problem, const std::string& what) {
  const ErrorKind kind = problem.is("rateLimited") ? ErrorKind::TooManyRequests : ErrorKind::Forbidden;
  return Error::make(kind, "acme_rejected", what + ": " + problem.describe());
}

/// The JSON object of an answer, or acme_protocol naming what was asked.
Result<json> objectOf(const acme::HttpAnswer& answer, const std::string& what) {
  auto doc = json::parse(answer.body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return protocolError(what + ": the answer is not a JSON object");
  return doc;
}

std::string stringField(const json& doc, const char* name) {
  auto it = doc.find(name);
  return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

/// "type: detail" of the first challenge error in an authorization, for acme_invalid.
std::string challengeError(const json& authz) {
  auto challenges = authz.find("challenges");
  if (challenges != authz.end() && challenges->is_array()) {
    for (const auto& ch : *challenges) {
      auto err = ch.find("error");
      if (err == ch.end() || !err->is_object()) continue;
      if (auto problem = acme::parseProblem(err->dump())) return problem->describe();
    }
  }
  return "no challenge error given";
}

std::string identifierOf(const json& authz) {
  auto id = authz.find("identifier");
  return id != authz.end() && id->is_object() ? stringField(*id, "value") : std::string("?");
}

/// Calls responder.cleanup for every token presented, whatever happens.
class PresentedTokens {
 public:
  explicit PresentedTokens(Http01Responder& responder) : responder_(responder) {}
  ~PresentedTokens() {
    for (const auto& token : tokens_) responder_.cleanup(token);
  }
  PresentedTokens(const PresentedTokens&) = delete;
  PresentedTokens& operator=(const PresentedTokens&) = delete;
  void add(const std::string& token) { tokens_.push_back(token); }

 private:
  Http01Responder& responder_;
  std::vector<std::string> tokens_;
};

struct Challenge {
  std::string authzUrl;
  std::string challengeUrl;
  std::string token;
};

}  // namespace

/// One run of ensureAccount() or obtain(): the directory and the requests.
struct AcmeClient::State {
  explicit State(AcmeClient& c) : client(c) {}

  AcmeClient& client;
  std::string newNonceUrl;
  std::string newAccountUrl;
  std::string newOrderUrl;

  acme::HttpOptions httpOptions() const { return {client.settings_.caRootFile, client.settings_.requestTimeout}; }

  Result<acme::HttpAnswer> exchange(acme::HttpRequest request) {
    auto answer = acme::httpExchange(request, httpOptions());
    if (answer) {
      std::string nonce = answer.value().header("replay-nonce");
      if (!nonce.empty()) client.nonce_ = std::move(nonce);
    }
    return answer;
  }

  Status loadDirectory() {
    if (!newOrderUrl.empty()) return okStatus();
    auto answer = exchange({"GET", client.settings_.directoryUrl, {{"Accept", "application/json"}}, ""});
    if (!answer) return answer.error();
    if (answer.value().status != 200) return failed(answer.value(), "GET directory " + client.settings_.directoryUrl);
    auto doc = objectOf(answer.value(), "directory");
    if (!doc) return doc.error();
    newNonceUrl = stringField(doc.value(), "newNonce");
    newAccountUrl = stringField(doc.value(), "newAccount");
    newOrderUrl = stringField(doc.value(), "newOrder");
    if (newNonceUrl.empty() || newAccountUrl.empty() || newOrderUrl.empty())
      return protocolError("the directory lacks newNonce, newAccount or newOrder");
    return okStatus();
  }

  Status freshNonce() {
    auto answer = exchange({"HEAD", newNonceUrl, {}, ""});
    if (!answer) return answer.error();
    if (client.nonce_.empty()) return protocolError("newNonce answered without a Replay-Nonce");
    return okStatus();
  }

  /// An error answer as an Error: a problem document is acme_rejected.
  Error failed(const acme::HttpAnswer& answer, const std::string& what) {
    if (auto problem = acme::parseProblem(answer.body)) return rejected(*problem, what);
    if (answer.status >= 500) return unreachable(what + ": HTTP " + std::to_string(answer.status));
    return protocolError(what + ": HTTP " + std::to_string(answer.status) + " without a problem document");
  }

  /// A signed POST; `payload` nullopt is POST-as-GET. Retries badNonce.
  Result<acme::HttpAnswer> post(const std::string& url, const std::optional<json>& payload, const std::string& what,
                                const std::string& accept = "application/json") {
    const std::optional<std::string> payloadJson = payload ? std::optional<std::string>(payload->dump()) : std::nullopt;
    const bool useJwk = client.accountUrl_.empty();
    for (int attempt = 0;; ++attempt) {
      if (client.nonce_.empty()) {
        if (auto st = freshNonce(); !st) return st.error();
      }
      const std::string nonce = std::exchange(client.nonce_, std::string());
      auto jws = acme::signJws(client.accountKey_, url, nonce, useJwk ? "" : client.accountUrl_, payloadJson);
      if (!jws)
        return Error::make(ErrorKind::Internal, "acme_protocol", what + ": cannot sign: " + jws.error().message);
      auto answer = exchange(
          {"POST", url, {{"Content-Type", "application/jose+json"}, {"Accept", accept}}, std::move(jws.value())});
      if (!answer) return answer.error();
      if (answer.value().status < 400) return answer;
      auto problem = acme::parseProblem(answer.value().body);
      if (problem && problem->is("badNonce") && attempt < kBadNonceRetries) continue;
      return failed(answer.value(), what);
    }
  }

  Result<std::string> account() {
    if (!client.accountUrl_.empty()) return client.accountUrl_;
    if (auto st = loadDirectory(); !st) return st.error();
    json payload = {{"termsOfServiceAgreed", true}};
    const std::string& email = client.settings_.email;
    if (!email.empty()) payload["contact"] = json::array({email.starts_with("mailto:") ? email : "mailto:" + email});
    auto answer = post(newAccountUrl, payload, "newAccount");
    if (!answer) return answer.error();
    std::string location = answer.value().header("location");
    if (location.empty()) return protocolError("newAccount answered without a Location");
    client.accountUrl_ = std::move(location);
    return client.accountUrl_;
  }

  /// Sleeps before the next poll: pollInterval, or the server's Retry-After
  /// when larger, never past `deadline`. False when the deadline has passed.
  bool pause(const acme::HttpAnswer& answer, Clock::time_point deadline) {
    auto delay = client.settings_.pollInterval;
    if (auto retry = acme::parseRetryAfter(answer.header("retry-after"), std::chrono::system_clock::now()))
      delay = std::max(delay, *retry);
    const auto now = Clock::now();
    if (now >= deadline) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(delay, deadline - now));
    return true;
  }

  /// Polls `url` (POST-as-GET) until its status is one of `done` or "invalid".
  Result<json> pollUntil(const std::string& url, const std::set<std::string>& done, const std::string& what,
                         Clock::time_point deadline) {
    for (;;) {
      auto answer = post(url, std::nullopt, what);
      if (!answer) return answer.error();
      auto doc = objectOf(answer.value(), what);
      if (!doc) return doc.error();
      const std::string status = stringField(doc.value(), "status");
      if (done.count(status) || status == "invalid") return doc;
      if (status.empty()) return protocolError(what + ": no status");
      if (!pause(answer.value(), deadline))
        return unreachable(what + ": still " + status + " after " +
                           std::to_string(client.settings_.validationTimeout.count()) + " ms");
    }
  }

  Result<AcmeOrderResult> obtain(const std::vector<std::string>& dnsNames, Http01Responder& responder) {
    if (dnsNames.empty()) return Error::invalid("dnsNames", "no names to order a certificate for");
    for (size_t i = 0; i < dnsNames.size(); ++i) {
      if (dnsNames[i].empty() || dnsNames[i].find('*') != std::string::npos)
        return Error::invalid("dnsNames[" + std::to_string(i) + "]", "HTTP-01 cannot validate '" + dnsNames[i] + "'");
    }
    if (auto st = loadDirectory(); !st) return st.error();
    auto accountUrl = account();
    if (!accountUrl) return accountUrl.error();

    json identifiers = json::array();
    for (const auto& name : dnsNames) identifiers.push_back({{"type", "dns"}, {"value", name}});
    auto created = post(newOrderUrl, json{{"identifiers", identifiers}}, "newOrder");
    if (!created) return created.error();
    const std::string orderUrl = created.value().header("location");
    if (orderUrl.empty()) return protocolError("newOrder answered without a Location");
    auto order = objectOf(created.value(), "newOrder");
    if (!order) return order.error();
    const std::string finalizeUrl = stringField(order.value(), "finalize");
    auto authzs = order.value().find("authorizations");
    if (finalizeUrl.empty() || authzs == order.value().end() || !authzs->is_array())
      return protocolError("newOrder: the order lacks finalize or authorizations");

    {
      PresentedTokens presented(responder);
      auto st = validate(*authzs, responder, presented);
      if (!st) return st.error();
    }

    const auto deadline = Clock::now() + client.settings_.validationTimeout;
    auto ready = pollUntil(orderUrl, {"ready", "valid"}, "order " + orderUrl, deadline);
    if (!ready) return ready.error();
    if (stringField(ready.value(), "status") == "invalid") return invalidError("order " + orderUrl + " is invalid");

    auto key = PrivateKey::generateP256();
    if (!key) return key.error();
    json finalOrder = ready.value();
    if (stringField(finalOrder, "status") == "ready") {
      auto csr = makeCsrDer(key.value(), dnsNames);
      if (!csr) return csr.error();
      auto finalized = post(finalizeUrl, json{{"csr", crypto::base64UrlEncode(csr.value())}}, "finalize");
      if (!finalized) return finalized.error();
      auto valid = pollUntil(orderUrl, {"valid"}, "order " + orderUrl, deadline);
      if (!valid) return valid.error();
      finalOrder = std::move(valid.value());
      if (stringField(finalOrder, "status") == "invalid")
        return invalidError("order " + orderUrl + " went invalid after finalize");
    } else {
      // Already valid before we finalized: its certificate is not for our key.
      return protocolError("order " + orderUrl + " was valid before finalize");
    }

    const std::string certificateUrl = stringField(finalOrder, "certificate");
    if (certificateUrl.empty()) return protocolError("the valid order " + orderUrl + " has no certificate URL");
    auto download = post(certificateUrl, std::nullopt, "certificate download", "application/pem-certificate-chain");
    if (!download) return download.error();
    auto chain = splitPemChain(download.value().body);
    if (!chain || chain.value().empty())
      return protocolError("the certificate at " + certificateUrl + " is not a PEM chain");
    if (!keyMatchesCertificate(download.value().body, key.value().toPem()))
      return protocolError("the certificate at " + certificateUrl + " is not for the key of the CSR");

    AcmeOrderResult result;
    result.certificate = {download.value().body, key.value().toPem()};
    result.orderUrl = orderUrl;
    result.accountUrl = client.accountUrl_;
    return result;
  }

  /// Presents every pending authorization's http-01 challenge, tells the
  /// server to validate each, then waits for all of them.
  Status validate(const json& authzUrls, Http01Responder& responder, PresentedTokens& presented) {
    std::vector<Challenge> pending;
    for (const auto& item : authzUrls) {
      if (!item.is_string()) return protocolError("an authorization URL is not a string");
      const std::string authzUrl = item.get<std::string>();
      auto answer = post(authzUrl, std::nullopt, "authorization " + authzUrl);
      if (!answer) return answer.error();
      auto authz = objectOf(answer.value(), "authorization " + authzUrl);
      if (!authz) return authz.error();
      const std::string status = stringField(authz.value(), "status");
      if (status == "valid") continue;
      if (status != "pending")
        return invalidError("authorization for " + identifierOf(authz.value()) + " is " + status + ": " +
                            challengeError(authz.value()));
      Challenge challenge{authzUrl, "", ""};
      auto challenges = authz.value().find("challenges");
      if (challenges != authz.value().end() && challenges->is_array()) {
        for (const auto& ch : *challenges) {
          if (ch.is_object() && stringField(ch, "type") == "http-01") {
            challenge.challengeUrl = stringField(ch, "url");
            challenge.token = stringField(ch, "token");
          }
        }
      }
      if (challenge.challengeUrl.empty() || challenge.token.empty())
        return protocolError("authorization for " + identifierOf(authz.value()) + " offers no http-01 challenge");
      presented.add(challenge.token);
      if (auto st = responder.present(challenge.token, client.keyAuthorization(challenge.token)); !st)
        return st.error();
      pending.push_back(std::move(challenge));
    }
    for (const auto& challenge : pending) {
      auto answer = post(challenge.challengeUrl, json::object(), "challenge " + challenge.challengeUrl);
      if (!answer) return answer.error();
    }
    const auto deadline = Clock::now() + client.settings_.validationTimeout;
    for (const auto& challenge : pending) {
      auto authz = pollUntil(challenge.authzUrl, {"valid"}, "authorization " + challenge.authzUrl, deadline);
      if (!authz) return authz.error();
      const std::string status = stringField(authz.value(), "status");
      if (status != "valid")
        return invalidError("authorization for " + identifierOf(authz.value()) + " is " + status + ": " +
                            challengeError(authz.value()));
    }
    return okStatus();
  }
};

AcmeClient::AcmeClient(AcmeSettings settings, PrivateKey accountKey)
    : settings_(std::move(settings)), accountKey_(std::move(accountKey)) {}

Result<std::string> AcmeClient::ensureAccount() {
  State state(*this);
  return state.account();
}

Result<AcmeOrderResult> AcmeClient::obtain(const std::vector<std::string>& dnsNames, Http01Responder& responder) {
  State state(*this);
  return state.obtain(dnsNames, responder);
}

std::string AcmeClient::keyAuthorization(std::string_view token) const {
  return std::string(token) + "." + accountKey_.jwkThumbprint();
}

}  // namespace proxyos::tls
