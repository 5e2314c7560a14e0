// GCC 12 at -O2 misreports Asio's coroutine frame allocator as mismatched
// (see client_session.cpp).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

// The SSO step of a client session (ARCHITECTURE.md §2 step 4, §3): an
// external provider's forward-auth sub-request, or the built-in provider's
// in-process session check, then the group check and the identity headers.
// Every path that cannot prove who the client is ends in a deny or a 503:
// nothing here lets a request through by default.
#include <spdlog/spdlog.h>

#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>

#include "client_session.h"
#include "error_pages.h"
#include "header_rules.h"
#include "local_response.h"
#include "shared/session/cookie_codec.h"
#include "shared/session/handoff.h"
#include "sso_context.h"
#include "string_view_compat.h"

namespace proxyos::edge {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::use_awaitable;

namespace {

constexpr std::string_view kHtml = "text/html; charset=utf-8";

std::string joined(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

// Who the access log names: the first identity header that looks like a
// user name (Remote-User, X-authentik-username, X-Auth-Request-User), else
// the first one. No allocation: it runs for every allowed request.
std::string userOf(const std::vector<std::pair<std::string, std::string>>& identity) {
  const auto namesUser = [](std::string_view name) {
    for (std::size_t i = 0; i + 4 <= name.size(); ++i)
      if (boost::beast::iequals(toBeast(name.substr(i, 4)), "user")) return true;
    return false;
  };
  for (const auto& [name, value] : identity)
    if (namesUser(name)) return value;
  return identity.empty() ? std::string() : identity.front().second;
}

// The value of query parameter `name` in a request target, raw (codes are
// base64url: nothing to decode).
std::string_view queryParam(std::string_view target, std::string_view name) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=')
      return pair.substr(name.size() + 1);
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return {};
}

// Fields of a provider's answer that a denied client may see: everything
// end-to-end except what the edge's own writer sets.
std::vector<std::pair<std::string, std::string>> relayedFields(const Fields& answer) {
  std::vector<std::pair<std::string, std::string>> out;
  std::string_view connection;
  for (const auto& f : answer)
    if (f.name() == http::field::connection) connection = toStd(f.value());
  for (const auto& f : answer) {
    // Content-Type and Content-Length are the writer's (LocalResponse).
    if (isHopByHop(f.name()) || f.name() == http::field::content_length || f.name() == http::field::content_type)
      continue;
    const std::string_view name = toStd(f.name_string());
    if (!connection.empty() && hasToken(connection, name)) continue;
    out.emplace_back(std::string(name), std::string(toStd(f.value())));
  }
  return out;
}

// The handoff nonce: host-only, sent back only to the callback path; an
// empty value with max-age 0 deletes it.
std::string handoffNonceCookie(std::string_view nonce, bool secure, int maxAgeSeconds) {
  std::string c(session::kHandoffNonceCookie);
  c += "=";
  c += nonce;
  c += "; Path=";
  c += session::kCallbackPath;
  c += "; Max-Age=" + std::to_string(maxAgeSeconds) + "; HttpOnly; SameSite=Lax";
  if (secure) c += "; Secure";
  return c;
}

std::chrono::microseconds since(const Clock& clock, Clock::MonoTime start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(clock.monotonic() - start);
}

}  // namespace

asio::awaitable<ClientSession::SsoResult> ClientSession::enforceSso(RequestParser& parser, AccessRecord& record,
                                                                    const MatchedRoute& match) {
  const auto& req = parser.get();
  const SsoProviderEntry* provider = match.provider;
  if (!provider) {
    // Unknown or undecodable provider: the route asked for SSO that cannot
    // be given, so nobody passes.
    spdlog::warn("edge: route {} requires SSO provider {}, which this edge does not know; answering 503",
                 match.route.id, match.route.ssoProviderId);
    co_return co_await respond(parser, record, 503, kHtml,
                               errorPageSaying(503, "The sign-in provider of this site is not configured."), nullptr);
  }
  const SsoRequestFacts facts{toStd(req.method_string()), io_.stream.secure() ? "https" : "http", record.host, toStd(req.target()), io_.clientIp};
  if (provider->builtin) co_return co_await enforceBuiltin(parser, record, match, facts);
  co_return co_await enforceExternal(parser, record, match, facts);
}

asio::awaitable<ClientSession::SsoResult> ClientSession::enforceExternal(RequestParser& parser, AccessRecord& record,
                                                                         const MatchedRoute& match,
                                                                         const SsoRequestFacts& facts) {
  auto& req = parser.get();
  const SsoProviderEntry& entry = *match.provider;
  const model::SsoProvider& provider = entry.provider;
  const auto start = core_->clock.monotonic();

  // Opt-in allow cache: only allows are kept, keyed by the credentials.
  std::string cacheKey;
  if (provider.cacheTtlSeconds > 0 && core_->sso) {
    cacheKey = AllowCache::key(provider.id, toStd(req[http::field::cookie]), toStd(req[http::field::authorization]));
    if (const auto hit = core_->sso->allows.find(cacheKey)) {
      core_->observer.onSsoCheck(provider.id, SsoOutcome::Allow, since(core_->clock, start));
      co_return co_await admit(parser, record, match, match.provider->identityNames, hit->identity, hit->groups,
                               provider.groupsSeparator);
    }
  }

  forwardAuth_.emplace(*core_, io_);
  const auto transport = co_await forwardAuth_->run(entry, req, facts);
  const auto latency = since(core_->clock, start);
  // Only failures pay for the page.
  const auto providerDown = [&provider] {
    return errorPageSaying(503, "The sign-in provider \"" + provider.name + "\" is not available. Try again later.");
  };
  if (transport != ForwardAuthCall::Transport::Answered) {
    core_->observer.onSsoCheck(provider.id, SsoOutcome::Error, latency);
    spdlog::warn("edge: SSO provider {} ({}) failed: {}; answering 503", provider.name, provider.id,
                 forwardAuth_->failure());
    co_return co_await respond(parser, record, 503, kHtml, providerDown(), nullptr);
  }
  const auto& answer = forwardAuth_->answer();
  const unsigned status = answer.result_int();
  // The URL rd would carry back is only needed for a denial.
  const std::string url = status >= 200 && status < 300 ? std::string() : originalUrl(facts);
  AuthDecision d = interpretAuthAnswer(provider, status, answer, isBrowser(req), url);
  switch (d.kind) {
    case AuthDecision::Kind::Error:
      core_->observer.onSsoCheck(provider.id, SsoOutcome::Error, latency);
      spdlog::warn("edge: SSO provider {} ({}): {}; answering 503", provider.name, provider.id, d.reason);
      co_return co_await respond(parser, record, 503, kHtml, providerDown(), nullptr);
    case AuthDecision::Kind::Deny: {
      core_->observer.onSsoCheck(provider.id, SsoOutcome::Deny, latency);
      if (!d.relay) co_return co_await respond(parser, record, d.status, kHtml, "", &d.headers);
      const auto fields = relayedFields(answer);
      co_return co_await respond(parser, record, answer.result_int(), toStd(answer[http::field::content_type]),
                                 answer.body(), &fields);
    }
    case AuthDecision::Kind::Allow: break;
  }
  core_->observer.onSsoCheck(provider.id, SsoOutcome::Allow, latency);
  if (!cacheKey.empty())
    core_->sso->allows.store(std::move(cacheKey), std::make_shared<const CachedAllow>(CachedAllow{d.identity, d.groups}),
                             std::chrono::seconds(provider.cacheTtlSeconds));
  co_return co_await admit(parser, record, match, match.provider->identityNames, d.identity, d.groups,
                           provider.groupsSeparator);
}

asio::awaitable<ClientSession::SsoResult> ClientSession::enforceBuiltin(RequestParser& parser, AccessRecord& record,
                                                                        const MatchedRoute& match,
                                                                        const SsoRequestFacts& facts) {
  auto& req = parser.get();
  const model::SsoProvider& provider = match.provider->provider;
  SsoContext* sso = core_->sso;
  if (!sso) {
    spdlog::warn("edge: route {} uses the built-in SSO provider, but this edge has no session store; answering 503",
                 match.route.id);
    co_return co_await respond(parser, record, 503, kHtml,
                               errorPageSaying(503, "Single sign-on is not available on this node."), nullptr);
  }
  char hostBuf[256];
  const std::string_view host = normalizeHost(record.host, hostBuf, sizeof hostBuf);
  const std::string_view target = facts.target;
  if (target.substr(0, target.find('?')) == session::kCallbackPath)
    co_return co_await redeemCallback(parser, record, host, facts);

  const auto start = core_->clock.monotonic();
  const std::string_view cookie = cookieValue(parser.get(), session::kCookieName);
  std::shared_ptr<const SessionVerdict> verdict = cookie.empty() ? nullptr : sso->verdicts.find(cookie);
  if (!verdict && !cookie.empty()) verdict = co_await askSessionStore(cookie);
  const auto latency = since(core_->clock, start);
  if (verdict && verdict->kind == SessionVerdict::Kind::Unavailable) {
    core_->observer.onSsoCheck(provider.id, SsoOutcome::Error, latency);
    spdlog::warn("edge: the session store is unavailable; answering 503 for route {}", match.route.id);
    co_return co_await respond(
        parser, record, 503, kHtml,
        errorPageSaying(503, "Sign-in (" + provider.name + ") is not available right now. Try again later."), nullptr);
  }
  if (!verdict || verdict->kind != SessionVerdict::Kind::Valid) {
    core_->observer.onSsoCheck(provider.id, SsoOutcome::Deny, latency);
    if (!isBrowser(req)) co_return co_await respond(parser, record, 401, kHtml, std::string(errorPage(401)), nullptr);
    // A host the dashboard's cookie reaches logs in on the dashboard and
    // comes back with that cookie; any other host gets the session through
    // the one-time-code handoff (shared/session/handoff.h).
    std::vector<std::pair<std::string, std::string>> headers;
    if (sso->cookieReaches(host)) {
      headers.emplace_back("Location", loginRedirect(sso->settings.publicOrigin + "/login", originalUrl(facts)));
    } else {
      // The nonce ties the code auth will issue to this browser (login CSRF).
      const std::string nonce = session::newToken();
      headers.emplace_back("Location", loginRedirect(sso->settings.publicOrigin + "/api/auth/handoff",
                                                     originalUrl(facts)) +
                                           "&state=" + session::handoffState(nonce));
      headers.emplace_back("Set-Cookie", handoffNonceCookie(nonce, facts.scheme == "https", 600));
    }
    headers.emplace_back("Cache-Control", "no-store");
    co_return co_await respond(parser, record, 302, kHtml, "", &headers);
  }
  core_->observer.onSsoCheck(provider.id, SsoOutcome::Allow, latency);
  // The session cookie is the edge's, not the upstream's: an upstream that
  // saw it could replay it against the dashboard.
  removeCookie(req, session::kCookieName);
  ssoSessionId_ = verdict->sessionId;
  ssoParentId_ = verdict->parentId;
  const std::string groups = joined(verdict->groups, ",");
  const std::vector<std::pair<std::string, std::string>> identity = {
      {"X-Auth-User", verdict->username}, {"X-Auth-Email", verdict->email}, {"X-Auth-Groups", groups}};
  co_return co_await admit(parser, record, match, match.provider->identityNames, identity, groups,
                           ",");
}

asio::awaitable<bool> ClientSession::redeemCallback(RequestParser& parser, AccessRecord& record, std::string_view host,
                                                    const SsoRequestFacts& facts) {
  auto& req = parser.get();
  SsoContext* sso = core_->sso;
  std::string code(queryParam(facts.target, "code"));
  std::string hostName(host);
  std::string clientIp = io_.clientIp;
  std::string userAgent(toStd(req[http::field::user_agent]).substr(0, 256));
  std::string nonce(cookieValue(req, session::kHandoffNonceCookie));
  auto redemption = runOnWorkers<session::HandoffResult>(
      sso->workers, io_.strand, [sso, code, hostName, nonce, clientIp, userAgent] {
        return sso->authority.redeem(code, hostName, nonce, clientIp, userAgent);
      });  // not a temporary across the co_await (see enforceBuiltin)
  const session::HandoffResult result = co_await std::move(redemption);
  using Outcome = session::HandoffResult::Outcome;
  if (result.outcome == Outcome::StoreUnavailable)
    co_return co_await respond(parser, record, 503, kHtml,
                               errorPageSaying(503, "Sign-in is not available right now. Try again later."), nullptr);
  if (result.outcome != Outcome::Ok) {
    spdlog::info("edge: sign-in code refused on {} ({})", hostName,
                 result.outcome == Outcome::SessionEnded ? "session ended" : "unknown, used, expired or other host");
    co_return co_await respond(
        parser, record, 400, kHtml,
        errorPageSaying(400, "This sign-in link has expired or was already used. Open the site again to sign in."),
        nullptr);
  }
  spdlog::info("edge: sign-in handed over to {} user={} session={}", hostName, result.session.username,
               result.session.id.substr(0, 12));
  // Host-only (no Domain): this cookie is for this host alone.
  const session::CookieAttributes attrs{facts.scheme == "https", "", sso->settings.cookieMaxAge};
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"Location", result.rd},
      {"Set-Cookie", session::setCookieHeader(result.cookieValue, attrs)},
      {"Set-Cookie", handoffNonceCookie("", attrs.secure, 0)},
      {"Cache-Control", "no-store"},
      {"Referrer-Policy", "no-referrer"}};
  co_return co_await respond(parser, record, 302, kHtml, "", &headers);
}

asio::awaitable<std::shared_ptr<const SessionVerdict>> ClientSession::askSessionStore(std::string_view cookie) {
  SsoContext* sso = core_->sso;
  // Redis is asked on a worker thread; this coroutine resumes on its own
  // strand when the answer is in.
  const auto generation = sso->verdicts.generation();
  std::string value(cookie);
  // Built in a statement of its own: GCC 12 mishandles a temporary closure
  // that lives across a co_await (it relocates it bitwise, which breaks a
  // short std::string inside).
  auto lookup = runOnWorkers<std::shared_ptr<const SessionVerdict>>(sso->workers, io_.strand, [sso, value] {
    return std::make_shared<const SessionVerdict>(sso->authority.verify(value));
  });
  std::shared_ptr<const SessionVerdict> verdict = co_await std::move(lookup);
  if (verdict->kind == SessionVerdict::Kind::Unavailable) {
    // Redis is failing over (or down): a session seen valid moments ago
    // goes on; one never seen fails closed.
    if (auto last = sso->verdicts.lastValid(value)) co_return last;
    co_return verdict;
  }
  sso->verdicts.store(value, verdict, generation);
  co_return verdict;
}

asio::awaitable<ClientSession::SsoResult> ClientSession::requireDashboardUser(RequestParser& parser,
                                                                              AccessRecord& record) {
  constexpr std::string_view kJson = "application/json";
  static const std::vector<std::pair<std::string, std::string>> kNoStore{{"Cache-Control", "no-store"}};
  if (!core_->sso)
    co_return co_await respond(parser, record, 503, kJson,
                               jsonErrorBody("session_store_unavailable", "this edge has no session store"), &kNoStore);
  SsoContext* sso = core_->sso;
  const std::string_view cookie = cookieValue(parser.get(), session::kCookieName);
  std::shared_ptr<const SessionVerdict> verdict = cookie.empty() ? nullptr : sso->verdicts.find(cookie);
  if (!verdict && !cookie.empty()) verdict = co_await askSessionStore(cookie);
  if (verdict && verdict->kind == SessionVerdict::Kind::Unavailable)
    co_return co_await respond(parser, record, 503, kJson,
                               jsonErrorBody("session_store_unavailable", "sessions cannot be checked right now"), &kNoStore);
  if (!verdict || verdict->kind != SessionVerdict::Kind::Valid)
    co_return co_await respond(parser, record, 401, kJson, jsonErrorBody("unauthenticated", "sign in to the dashboard"),
                               &kNoStore);
  record.user = verdict->username;
  if (!session::canReadAdminApi(verdict->role))
    co_return co_await respond(parser, record, 403, kJson,
                               jsonErrorBody("forbidden", "this needs an admin or viewer account"), &kNoStore);
  co_return std::nullopt;
}

asio::awaitable<ClientSession::SsoResult> ClientSession::admit(
    RequestParser& parser, AccessRecord& record, const MatchedRoute& match,
    const std::vector<std::string>& identityNames, const std::vector<std::pair<std::string, std::string>>& identity,
    std::string_view groups, std::string_view separator) {
  const auto& required = match.route.accessosGroups;
  if (!groupsAllowed(required, groups, separator)) {
    record.user = userOf(identity);
    co_return co_await respond(
        parser, record, 403, kHtml,
        errorPageSaying(403, "You are signed in, but this site requires membership in one of these groups: " +
                                 joined(required, ", ") + "."),
        nullptr);
  }
  // Delete before set: a client can never forge an identity header.
  applyIdentity(parser.get(), identityNames, identity);
  record.user = userOf(identity);
  co_return std::nullopt;
}

asio::awaitable<bool> ClientSession::respond(const RequestParser& parser, AccessRecord& record, unsigned status,
                                             std::string_view contentType, std::string body,
                                             const std::vector<std::pair<std::string, std::string>>* headers) {
  const auto& req = parser.get();
  // Another request may follow only when this one was read to its end (a
  // denied upload is not read).
  const bool keep = parser.is_done() && req.keep_alive() && !core_->stopping;
  LocalResponse res;
  res.status = status;
  res.contentType = contentType;
  res.body = body;
  res.headers = headers;
  res.version = req.version();
  res.head = req.method() == http::verb::head;
  res.keepAlive = keep;
  res.requestId = record.requestId;
  record.status = static_cast<int>(status);
  record.bytesSent = res.head ? 0 : body.size();
  const auto ec = co_await writeLocalResponse(io_, res, core_->options.idleTimeout);
  co_return keep && !ec;
}

}  // namespace proxyos::edge
