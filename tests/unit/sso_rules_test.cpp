// The SSO step's pure rules (ARCHITECTURE.md §2 step 4): the forward-auth
// sub-request head, the meaning of the provider's answer, the group check,
// delete-before-set of identity headers, the login redirect and the cookie
// helpers.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "services/edge-proxy/header_rules.h"
#include "services/edge-proxy/sso_rules.h"
#include "services/edge-proxy/string_view_compat.h"

namespace proxyos::edge {
namespace {

using Kind = AuthDecision::Kind;
using Pairs = std::vector<std::pair<std::string, std::string>>;

Fields makeFields(const Pairs& pairs) {
  Fields f;
  for (const auto& [name, value] : pairs) f.insert(toBeast(name), toBeast(value));
  return f;
}

// The fields of `f` in list order, as sent.
Pairs fieldList(const Fields& f) {
  Pairs out;
  for (const auto& field : f) out.emplace_back(std::string{toStd(field.name_string())}, std::string{toStd(field.value())});
  return out;
}

model::SsoProvider authelia() {
  model::SsoProvider p;
  p.id = "authelia";
  p.name = "Authelia";
  p.type = model::SsoProviderType::Authelia;
  p.forwardAuthUrl = "http://authelia:9091/api/authz/forward-auth";
  p.loginUrl = "https://auth.example.com/";
  p.authResponseHeaders = {"Remote-User", "Remote-Email", "Remote-Groups"};
  p.groupsHeader = "Remote-Groups";
  p.groupsSeparator = ",";
  return p;
}

model::SsoProvider builtin() {
  model::SsoProvider p;
  p.id = "builtin";
  p.name = "ProxyOS";
  p.type = model::SsoProviderType::Builtin;
  p.forwardAuthUrl = "http://auth:8081/api/auth/verify";
  p.loginUrl = "";
  p.authResponseHeaders = {"X-Auth-User", "X-Auth-Groups"};
  p.groupsHeader = "X-Auth-Groups";
  return p;
}

SsoRequestFacts facts() {
  SsoRequestFacts f;
  f.method = "POST";
  f.scheme = "https";
  f.host = "app.example.com:8443";
  f.target = "/a%20b/c?x=1&y=%2F";
  f.clientIp = "203.0.113.7";
  return f;
}

// The head split into its request line and fields; fails the test when the
// framing is wrong (CRLF per line, one empty line at the end).
struct Head {
  std::string requestLine;
  Pairs fields;
};

Head parseHead(const std::string& wire) {
  Head head;
  EXPECT_GE(wire.size(), 4u);
  EXPECT_EQ(wire.substr(wire.size() - 4), "\r\n\r\n");
  std::size_t pos = 0;
  bool first = true;
  while (pos < wire.size()) {
    const auto eol = wire.find("\r\n", pos);
    if (eol == std::string::npos) {
      ADD_FAILURE() << "unterminated line in " << wire;
      break;
    }
    const std::string line = wire.substr(pos, eol - pos);
    pos = eol + 2;
    if (first) {
      head.requestLine = line;
      first = false;
      continue;
    }
    if (line.empty()) {
      EXPECT_EQ(pos, wire.size()) << "bytes after the empty line";
      break;
    }
    const auto colon = line.find(": ");
    if (colon == std::string::npos) {
      ADD_FAILURE() << "bad field line: " << line;
      continue;
    }
    head.fields.emplace_back(line.substr(0, colon), line.substr(colon + 2));
  }
  return head;
}

Head authHead(const model::SsoProvider& provider, const Fields& client, const SsoRequestFacts& f = facts()) {
  std::string out;
  appendAuthRequestHead(provider, "/api/authz/forward-auth?x=1", "authelia:9091", client, f, out);
  return parseHead(out);
}

std::vector<std::string> valuesOf(const Pairs& fields, std::string_view name) {
  std::vector<std::string> values;
  for (const auto& [n, v] : fields)
    if (boost::beast::iequals(toBeast(n), toBeast(name))) values.push_back(v);
  return values;
}

bool hasName(const Pairs& fields, std::string_view name) { return !valuesOf(fields, name).empty(); }

// ---------------------------------------------------------------- originalUrl / isBrowser

TEST(SsoRulesOriginalUrl, SchemeHostAndTargetVerbatim) {
  EXPECT_EQ(originalUrl(facts()), "https://app.example.com:8443/a%20b/c?x=1&y=%2F");
  SsoRequestFacts f = facts();
  f.scheme = "http";
  f.host = "a.test";
  f.target = "/";
  EXPECT_EQ(originalUrl(f), "http://a.test/");
}

TEST(SsoRulesIsBrowser, AcceptWithTextHtmlCaseInsensitive) {
  EXPECT_TRUE(isBrowser(makeFields({{"Accept", "text/html,application/xhtml+xml,*/*;q=0.8"}})));
  EXPECT_TRUE(isBrowser(makeFields({{"accept", "application/xml, TEXT/HTML;q=0.9"}})));
}

TEST(SsoRulesIsBrowser, ApiClientsAreNot) {
  EXPECT_FALSE(isBrowser(makeFields({})));
  EXPECT_FALSE(isBrowser(makeFields({{"Accept", "application/json"}})));
  EXPECT_FALSE(isBrowser(makeFields({{"Accept", "*/*"}})));
  // text/html elsewhere than in Accept does not count.
  EXPECT_FALSE(isBrowser(makeFields({{"Content-Type", "text/html"}, {"X-Accept", "text/html"}})));
}

TEST(SsoRulesIsBrowser, EveryAcceptLineIsSearched) {
  EXPECT_TRUE(isBrowser(
      makeFields({{"Accept", "application/json"}, {"User-Agent", "x"}, {"Accept", "text/html"}})));
}

// ---------------------------------------------------------------- appendAuthRequestHead

TEST(SsoRulesAuthRequest, RequestLineHostAndForwardedFieldsInOrder) {
  const Head head = authHead(authelia(), makeFields({{"User-Agent", "curl/8"}}));
  EXPECT_EQ(head.requestLine, "GET /api/authz/forward-auth?x=1 HTTP/1.1");
  const Pairs expected = {{"Host", "authelia:9091"},
                          {"User-Agent", "curl/8"},
                          {"X-Forwarded-Method", "POST"},
                          {"X-Forwarded-Proto", "https"},
                          {"X-Forwarded-Host", "app.example.com:8443"},
                          {"X-Forwarded-Uri", "/a%20b/c?x=1&y=%2F"},
                          {"X-Forwarded-For", "203.0.113.7"}};
  EXPECT_EQ(head.fields, expected);
}

TEST(SsoRulesAuthRequest, AppendsToWhatOutAlreadyHolds) {
  std::string out = "previous";
  appendAuthRequestHead(authelia(), "/v", "h", makeFields({}), facts(), out);
  EXPECT_EQ(out.rfind("previousGET /v HTTP/1.1\r\nHost: h\r\n", 0), 0u);
}

TEST(SsoRulesAuthRequest, CopiesAllClientFieldsInOrderBytesVerbatim) {
  const Fields client = makeFields({{"Accept", "text/html"},
                                    {"Cookie", "authelia_session=abc; other=1"},
                                    {"Authorization", "Basic dXNlcjpwYXNz"},
                                    {"x-custom", "spaced  value\t!"},
                                    {"Forwarded", "for=1.2.3.4"},
                                    {"Cookie", "second=2"}});
  const Head head = authHead(authelia(), client);
  // Beast keeps the lines of one name together (an insert goes after the
  // last line of its name), so the second Cookie follows the first.
  const Pairs expected = {{"Host", "authelia:9091"},
                          {"Accept", "text/html"},
                          {"Cookie", "authelia_session=abc; other=1"},
                          {"Cookie", "second=2"},
                          {"Authorization", "Basic dXNlcjpwYXNz"},
                          {"x-custom", "spaced  value\t!"},
                          {"Forwarded", "for=1.2.3.4"}};
  ASSERT_GE(head.fields.size(), expected.size());
  EXPECT_EQ(Pairs(head.fields.begin(), head.fields.begin() + expected.size()), expected);
  EXPECT_EQ(head.fields.size(), expected.size() + 5);
}

TEST(SsoRulesAuthRequest, NeverCopiesHostHopByHopLengthOrExpect) {
  const Fields client = makeFields({{"Host", "app.example.com"},
                                    {"Connection", "keep-alive"},
                                    {"Keep-Alive", "timeout=5"},
                                    {"Proxy-Connection", "keep-alive"},
                                    {"TE", "trailers"},
                                    {"Trailer", "X-Checksum"},
                                    {"Transfer-Encoding", "chunked"},
                                    {"Content-Length", "12"},
                                    {"Expect", "100-continue"},
                                    {"Proxy-Authorization", "Basic Zm9vOmJhcg=="},
                                    {"Proxy-Authenticate", "Basic"},
                                    {"Content-Type", "application/json"}});
  const Head head = authHead(authelia(), client);
  for (const char* name : {"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding",
                           "Content-Length", "Expect", "Proxy-Authorization", "Proxy-Authenticate"})
    EXPECT_FALSE(hasName(head.fields, name)) << name;
  EXPECT_EQ(valuesOf(head.fields, "Host"), std::vector<std::string>{"authelia:9091"});
  EXPECT_EQ(valuesOf(head.fields, "Content-Type"), std::vector<std::string>{"application/json"});
}

TEST(SsoRulesAuthRequest, WebSocketUpgradeAndNamesListedInConnectionDropped) {
  const Fields client = makeFields({{"X-Before", "1"},
                                    {"Upgrade", "websocket"},
                                    {"Connection", "Upgrade, X-Before"},
                                    {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                                    {"Sec-WebSocket-Version", "13"},
                                    {"connection", "x-after"},
                                    {"X-After", "2"},
                                    {"X-Kept", "3"}});
  const Head head = authHead(authelia(), client);
  EXPECT_FALSE(hasName(head.fields, "Upgrade"));
  EXPECT_FALSE(hasName(head.fields, "Connection"));
  // Listed in Connection before or after the field itself, on either line.
  EXPECT_FALSE(hasName(head.fields, "X-Before"));
  EXPECT_FALSE(hasName(head.fields, "X-After"));
  // Not hop-by-hop: end-to-end fields are sent like any other.
  EXPECT_EQ(valuesOf(head.fields, "Sec-WebSocket-Key"), std::vector<std::string>{"dGhlIHNhbXBsZSBub25jZQ=="});
  EXPECT_EQ(valuesOf(head.fields, "Sec-WebSocket-Version"), std::vector<std::string>{"13"});
  EXPECT_EQ(valuesOf(head.fields, "X-Kept"), std::vector<std::string>{"3"});
}

TEST(SsoRulesAuthRequest, ClientForwardedFieldsReplacedByTheEdgesOwn) {
  const Fields client = makeFields({{"X-Forwarded-For", "6.6.6.6"},
                                    {"x-forwarded-host", "admin.internal"},
                                    {"X-Forwarded-Proto", "https"},
                                    {"X-Forwarded-Uri", "/admin"},
                                    {"X-Forwarded-Method", "GET"},
                                    {"X-Forwarded-Prefix", "/x"},
                                    {"X-Forwarded-User", "root"}});
  const Head head = authHead(authelia(), client);
  EXPECT_EQ(valuesOf(head.fields, "X-Forwarded-For"), std::vector<std::string>{"203.0.113.7"});
  EXPECT_EQ(valuesOf(head.fields, "X-Forwarded-Host"), std::vector<std::string>{"app.example.com:8443"});
  EXPECT_EQ(valuesOf(head.fields, "X-Forwarded-Proto"), std::vector<std::string>{"https"});
  EXPECT_EQ(valuesOf(head.fields, "X-Forwarded-Uri"), std::vector<std::string>{"/a%20b/c?x=1&y=%2F"});
  EXPECT_EQ(valuesOf(head.fields, "X-Forwarded-Method"), std::vector<std::string>{"POST"});
  EXPECT_FALSE(hasName(head.fields, "X-Forwarded-Prefix"));
  EXPECT_FALSE(hasName(head.fields, "X-Forwarded-User"));
}

TEST(SsoRulesAuthRequest, ForwardedUriKeepsEncodedPathAndQueryVerbatim) {
  SsoRequestFacts f = facts();
  f.method = "GET";
  f.target = "/p%2Fq/%7Euser/r%20s?a=%26b&c=d+e#";
  const Head head = authHead(authelia(), makeFields({}), f);
  EXPECT_EQ(valuesOf(head.fields, "X-Forwarded-Uri"), std::vector<std::string>{"/p%2Fq/%7Euser/r%20s?a=%26b&c=d+e#"});
  EXPECT_EQ(valuesOf(head.fields, "X-Forwarded-Method"), std::vector<std::string>{"GET"});
}

TEST(SsoRulesAuthRequest, AllowListCopiesOnlyNamedFieldsCaseInsensitive) {
  auto provider = authelia();
  provider.authRequestHeaders = {"cookie", "AUTHORIZATION", "Host", "Connection", "X-Forwarded-For", "Content-Length"};
  const Fields client = makeFields({{"Cookie", "a=1"},
                                    {"Accept", "text/html"},
                                    {"Authorization", "Bearer t"},
                                    {"Host", "app.example.com"},
                                    {"Connection", "close"},
                                    {"X-Forwarded-For", "6.6.6.6"},
                                    {"Content-Length", "3"},
                                    {"Cookie", "b=2"}});
  const Head head = authHead(provider, client);
  // Allow-listed never-copied names stay out: the list narrows, never widens.
  const Pairs expected = {{"Host", "authelia:9091"},
                          {"Cookie", "a=1"},
                          {"Cookie", "b=2"},
                          {"Authorization", "Bearer t"},
                          {"X-Forwarded-Method", "POST"},
                          {"X-Forwarded-Proto", "https"},
                          {"X-Forwarded-Host", "app.example.com:8443"},
                          {"X-Forwarded-Uri", "/a%20b/c?x=1&y=%2F"},
                          {"X-Forwarded-For", "203.0.113.7"}};
  EXPECT_EQ(head.fields, expected);
}

// ---------------------------------------------------------------- interpretAuthAnswer

constexpr std::string_view kOriginal = "https://app.example.com/a%20b?x=1";

TEST(SsoRulesAnswer, Status200AllowsWithIdentityInProviderOrder) {
  const Fields answer = makeFields({{"Remote-Groups", "admins,dev"},
                                    {"remote-user", "alice"},
                                    {"X-Other", "not copied"},
                                    {"Set-Cookie", "x=1"}});
  const AuthDecision d = interpretAuthAnswer(authelia(), 200, answer, true, kOriginal);
  EXPECT_EQ(d.kind, Kind::Allow);
  // Remote-Email was not sent: absent (applyIdentity still removes it).
  const Pairs expected = {{"Remote-User", "alice"}, {"Remote-Groups", "admins,dev"}};
  EXPECT_EQ(d.identity, expected);
  EXPECT_EQ(d.groups, "admins,dev");
  EXPECT_TRUE(d.headers.empty());
}

TEST(SsoRulesAnswer, Status204Allows) {
  const AuthDecision d = interpretAuthAnswer(authelia(), 204, makeFields({{"Remote-User", "bob"}}), false, kOriginal);
  EXPECT_EQ(d.kind, Kind::Allow);
  EXPECT_EQ(d.identity, (Pairs{{"Remote-User", "bob"}}));
  EXPECT_EQ(d.groups, "");
}

TEST(SsoRulesAnswer, SeveralLinesOfOneNameJoined) {
  const Fields answer = makeFields({{"Remote-Groups", "admins"},
                                    {"Remote-User", "alice"},
                                    {"Remote-Groups", "dev, ops"},
                                    {"Remote-Email", ""}});
  const AuthDecision d = interpretAuthAnswer(authelia(), 200, answer, true, kOriginal);
  ASSERT_EQ(d.kind, Kind::Allow);
  const Pairs expected = {{"Remote-User", "alice"}, {"Remote-Email", ""}, {"Remote-Groups", "admins, dev, ops"}};
  EXPECT_EQ(d.identity, expected);
  EXPECT_TRUE(groupsAllowed({"ops"}, d.groups, ","));
}

TEST(SsoRulesAnswer, GroupsLinesJoinedWithTheProvidersSeparator) {
  auto provider = authelia();
  provider.authResponseHeaders = {"X-authentik-username", "X-authentik-groups"};
  provider.groupsHeader = "X-authentik-groups";
  provider.groupsSeparator = "|";
  const Fields answer = makeFields({{"X-authentik-groups", "a|b"}, {"X-authentik-groups", "c d"}});
  const AuthDecision d = interpretAuthAnswer(provider, 200, answer, true, kOriginal);
  ASSERT_EQ(d.kind, Kind::Allow);
  EXPECT_EQ(d.groups, "a|b|c d");
  EXPECT_TRUE(groupsAllowed({"c d"}, d.groups, provider.groupsSeparator));
}

TEST(SsoRulesAnswer, Status302RelayedAsIs) {
  const Fields answer = makeFields({{"Location", "https://auth.example.com/?rd=x"}, {"Set-Cookie", "state=1"}});
  for (const bool browser : {true, false}) {
    const AuthDecision d = interpretAuthAnswer(authelia(), 302, answer, browser, kOriginal);
    EXPECT_EQ(d.kind, Kind::Deny);
    EXPECT_TRUE(d.relay);
    EXPECT_EQ(d.status, 302u);
    EXPECT_TRUE(d.identity.empty());
  }
}

TEST(SsoRulesAnswer, Status401BrowserRedirectedToLoginKeepingSetCookies) {
  const Fields answer = makeFields({{"Set-Cookie", "a=1; Path=/"},
                                    {"Content-Type", "text/plain"},
                                    {"Set-Cookie", "b=2; HttpOnly"},
                                    {"WWW-Authenticate", "Basic"}});
  const AuthDecision d = interpretAuthAnswer(authelia(), 401, answer, true, kOriginal);
  EXPECT_EQ(d.kind, Kind::Deny);
  EXPECT_FALSE(d.relay);
  EXPECT_EQ(d.status, 302u);
  const Pairs expected = {{"Location", "https://auth.example.com/?rd=https%3A%2F%2Fapp.example.com%2Fa%2520b%3Fx%3D1"},
                          {"Set-Cookie", "a=1; Path=/"},
                          {"Set-Cookie", "b=2; HttpOnly"}};
  EXPECT_EQ(d.headers, expected);
}

TEST(SsoRulesAnswer, Status403BrowserRedirectedToLogin) {
  const AuthDecision d = interpretAuthAnswer(authelia(), 403, makeFields({}), true, kOriginal);
  EXPECT_EQ(d.kind, Kind::Deny);
  EXPECT_FALSE(d.relay);
  EXPECT_EQ(d.status, 302u);
  ASSERT_EQ(d.headers.size(), 1u);
  EXPECT_EQ(d.headers[0].first, "Location");
  EXPECT_EQ(d.headers[0].second.rfind("https://auth.example.com/?rd=https%3A%2F%2F", 0), 0u);
}

TEST(SsoRulesAnswer, Status401ApiClientRelayed) {
  for (const unsigned status : {401u, 403u}) {
    const AuthDecision d =
        interpretAuthAnswer(authelia(), status, makeFields({{"WWW-Authenticate", "Bearer"}}), false, kOriginal);
    EXPECT_EQ(d.kind, Kind::Deny);
    EXPECT_TRUE(d.relay);
    EXPECT_EQ(d.status, status);
    EXPECT_TRUE(d.headers.empty());
  }
}

TEST(SsoRulesAnswer, Status401WithLocationRelayedEvenToBrowsers) {
  const Fields answer = makeFields({{"location", "https://sso.example.com/login?state=1"}});
  const AuthDecision d = interpretAuthAnswer(authelia(), 401, answer, true, kOriginal);
  EXPECT_EQ(d.kind, Kind::Deny);
  EXPECT_TRUE(d.relay);
  EXPECT_EQ(d.status, 401u);
}

TEST(SsoRulesAnswer, OtherClientErrorsRelayed) {
  for (const unsigned status : {400u, 404u, 429u}) {
    const AuthDecision d = interpretAuthAnswer(authelia(), status, makeFields({}), true, kOriginal);
    EXPECT_EQ(d.kind, Kind::Deny) << status;
    EXPECT_TRUE(d.relay) << status;
    EXPECT_EQ(d.status, status);
  }
}

TEST(SsoRulesAnswer, ServerErrorsFailClosed) {
  for (const unsigned status : {500u, 502u, 503u, 504u}) {
    const AuthDecision d = interpretAuthAnswer(authelia(), status, makeFields({{"Remote-User", "alice"}}), true,
                                               kOriginal);
    EXPECT_EQ(d.kind, Kind::Error) << status;
    EXPECT_EQ(d.reason, "provider answered " + std::to_string(status));
    EXPECT_TRUE(d.identity.empty());
  }
}

TEST(SsoRulesAnswer, StatusOutsideHttpRangeFailsClosed) {
  for (const unsigned status : {0u, 100u, 600u, 999u})
    EXPECT_EQ(interpretAuthAnswer(authelia(), status, makeFields({}), true, kOriginal).kind, Kind::Error) << status;
}

TEST(SsoRulesAnswer, BuiltinProviderWithoutLoginUrlRelays401And403) {
  for (const unsigned status : {401u, 403u}) {
    const AuthDecision d = interpretAuthAnswer(builtin(), status, makeFields({}), true, kOriginal);
    EXPECT_EQ(d.kind, Kind::Deny);
    EXPECT_TRUE(d.relay);
    EXPECT_EQ(d.status, status);
  }
  const AuthDecision ok =
      interpretAuthAnswer(builtin(), 200, makeFields({{"X-Auth-User", "carol"}, {"X-Auth-Groups", "g"}}), true,
                          kOriginal);
  EXPECT_EQ(ok.kind, Kind::Allow);
  EXPECT_EQ(ok.identity, (Pairs{{"X-Auth-User", "carol"}, {"X-Auth-Groups", "g"}}));
  EXPECT_EQ(ok.groups, "g");
}

// ---------------------------------------------------------------- loginRedirect

TEST(SsoRulesLoginRedirect, AppendsQueryWhenThereIsNone) {
  EXPECT_EQ(loginRedirect("https://auth.example.com/", "https://a.test/"),
            "https://auth.example.com/?rd=https%3A%2F%2Fa.test%2F");
  EXPECT_EQ(loginRedirect("https://auth.example.com", "x"), "https://auth.example.com?rd=x");
}

TEST(SsoRulesLoginRedirect, AmpersandAfterAnExistingQuery) {
  EXPECT_EQ(loginRedirect("https://kc.test/login?client=app", "u"), "https://kc.test/login?client=app&rd=u");
  EXPECT_EQ(loginRedirect("https://kc.test/login?", "u"), "https://kc.test/login?rd=u");
  EXPECT_EQ(loginRedirect("https://kc.test/login?a=1&", "u"), "https://kc.test/login?a=1&rd=u");
}

TEST(SsoRulesLoginRedirect, FragmentStaysLast) {
  EXPECT_EQ(loginRedirect("https://auth.test/#/login", "u"), "https://auth.test/?rd=u#/login");
  EXPECT_EQ(loginRedirect("https://auth.test/p?a=1#f?x&y", "u"), "https://auth.test/p?a=1&rd=u#f?x&y");
  EXPECT_EQ(loginRedirect("https://auth.test/#", "u"), "https://auth.test/?rd=u#");
}

TEST(SsoRulesLoginRedirect, EverythingOutsideUnreservedEncoded) {
  EXPECT_EQ(loginRedirect("https://auth.test/", "https://h.test:8443/a b/c?x=1&y=2#frag"),
            "https://auth.test/?rd=https%3A%2F%2Fh.test%3A8443%2Fa%20b%2Fc%3Fx%3D1%26y%3D2%23frag");
  EXPECT_EQ(loginRedirect("https://auth.test/", "AZaz09-._~+%é"), "https://auth.test/?rd=AZaz09-._~%2B%25%C3%A9");
  EXPECT_EQ(loginRedirect("https://auth.test/", ""), "https://auth.test/?rd=");
}

// ---------------------------------------------------------------- groupsAllowed

TEST(SsoRulesGroups, EmptyRequiredAllowsEveryone) {
  EXPECT_TRUE(groupsAllowed({}, "", ","));
  EXPECT_TRUE(groupsAllowed({}, "anything", "|"));
}

TEST(SsoRulesGroups, AutheliaCommaList) {
  EXPECT_TRUE(groupsAllowed({"dev"}, "admins,dev", ","));
  EXPECT_TRUE(groupsAllowed({"ops", "admins"}, "admins,dev", ","));
  EXPECT_FALSE(groupsAllowed({"ops"}, "admins,dev", ","));
}

TEST(SsoRulesGroups, AuthentikPipeList) {
  EXPECT_TRUE(groupsAllowed({"b"}, "a|b", "|"));
  EXPECT_FALSE(groupsAllowed({"a|b"}, "a|b", "|"));
  EXPECT_FALSE(groupsAllowed({"c"}, "a|b", "|"));
}

TEST(SsoRulesGroups, TrimmedEmptyPartsIgnoredCaseSensitive) {
  EXPECT_TRUE(groupsAllowed({"dev"}, " admins ,\tdev\t, ", ","));
  EXPECT_TRUE(groupsAllowed({"dev ops"}, "a, dev ops ,b", ","));
  EXPECT_FALSE(groupsAllowed({""}, ",, ,", ","));
  EXPECT_FALSE(groupsAllowed({"Dev"}, "admins,dev", ","));
  EXPECT_FALSE(groupsAllowed({"dev"}, "", ","));
  EXPECT_FALSE(groupsAllowed({"de"}, "admins,dev", ","));
}

TEST(SsoRulesGroups, EmptySeparatorMeansCommaAndLongSeparatorsWork) {
  EXPECT_TRUE(groupsAllowed({"dev"}, "admins,dev", ""));
  EXPECT_FALSE(groupsAllowed({"dev"}, "admins|dev", ""));
  EXPECT_TRUE(groupsAllowed({"dev"}, "admins::dev", "::"));
  EXPECT_TRUE(groupsAllowed({"dev"}, "admins dev", " "));
}

// ---------------------------------------------------------------- applyIdentity

TEST(SsoRulesIdentity, ForgedHeadersRemovedBeforeSet) {
  Fields request = makeFields({{"x-auth-user", "admin"},
                               {"Accept", "*/*"},
                               {"X-Auth-User", "root"},
                               {"X-AUTH-GROUPS", "admins"},
                               {"X-Auth-Email", "forged@example.com"}});
  const auto provider = builtin();
  // The provider sent X-Auth-User only: X-Auth-Groups must still go.
  applyIdentity(request, {"X-Auth-User", "X-Auth-Groups", "X-Auth-Email"}, {{"X-Auth-User", "carol"}});
  const Pairs expected = {{"Accept", "*/*"}, {"X-Auth-User", "carol"}};
  EXPECT_EQ(fieldList(request), expected);
}

TEST(SsoRulesIdentity, NoIdentityMeansNothingForgedSurvives) {
  Fields request = makeFields({{"Remote-User", "admin"}, {"Remote-Groups", "admins"}, {"Host", "a.test"}});
  applyIdentity(request, authelia().authResponseHeaders, {});
  EXPECT_EQ(fieldList(request), (Pairs{{"Host", "a.test"}}));
}

TEST(SsoRulesIdentity, EveryPairSet) {
  Fields request = makeFields({{"Host", "a.test"}});
  applyIdentity(request, authelia().authResponseHeaders,
                {{"Remote-User", "alice"}, {"Remote-Groups", "admins, dev"}, {"Remote-Email", ""}});
  const Pairs expected = {
      {"Host", "a.test"}, {"Remote-User", "alice"}, {"Remote-Groups", "admins, dev"}, {"Remote-Email", ""}};
  EXPECT_EQ(fieldList(request), expected);
}

TEST(SsoRulesIdentity, AnswerToRequestEndToEnd) {
  // The Caddy regression: valid answer plus forged client headers.
  const auto provider = authelia();
  Fields request = makeFields({{"Remote-User", "admin"}, {"Remote-Groups", "admins"}, {"Remote-Email", "x@y"}});
  const AuthDecision d =
      interpretAuthAnswer(provider, 200, makeFields({{"Remote-User", "alice"}, {"Remote-Groups", "dev"}}), true,
                          kOriginal);
  ASSERT_EQ(d.kind, Kind::Allow);
  applyIdentity(request, provider.authResponseHeaders, d.identity);
  EXPECT_EQ(fieldList(request), (Pairs{{"Remote-User", "alice"}, {"Remote-Groups", "dev"}}));
  EXPECT_FALSE(groupsAllowed({"admins"}, d.groups, provider.groupsSeparator));
}

// ---------------------------------------------------------------- removeCookie / cookieValue

TEST(SsoRulesCookies, RemoveKeepsOthersInOrder) {
  Fields request = makeFields({{"Cookie", "a=1; proxyos_session=k.t.m; b=2"}, {"Host", "a.test"}});
  removeCookie(request, "proxyos_session");
  EXPECT_EQ(valuesOf(fieldList(request), "Cookie"), std::vector<std::string>{"a=1; b=2"});
  EXPECT_EQ(valuesOf(fieldList(request), "Host"), std::vector<std::string>{"a.test"});
}

TEST(SsoRulesCookies, RemoveWithoutSpacesAndEveryCopy) {
  Fields request = makeFields({{"Cookie", "a=1;proxyos_session=x;b=2;proxyos_session=y"}});
  removeCookie(request, "proxyos_session");
  EXPECT_EQ(valuesOf(fieldList(request), "Cookie"), std::vector<std::string>{"a=1; b=2"});

  Fields plain = makeFields({{"Cookie", "a=1;b=2"}});
  removeCookie(plain, "b");
  EXPECT_EQ(valuesOf(fieldList(plain), "Cookie"), std::vector<std::string>{"a=1"});
}

TEST(SsoRulesCookies, RemoveDropsFieldWhenNothingLeft) {
  Fields request = makeFields({{"Host", "a.test"}, {"Cookie", "proxyos_session=x"}});
  removeCookie(request, "proxyos_session");
  EXPECT_EQ(fieldList(request), (Pairs{{"Host", "a.test"}}));
}

TEST(SsoRulesCookies, RemoveAcrossSeveralCookieLines) {
  Fields request = makeFields({{"Cookie", "a=1"},
                               {"Cookie", "proxyos_session=x"},
                               {"Accept", "*/*"},
                               {"Cookie", "b=2;proxyos_session=y; c=3"},
                               {"Cookie", "d=4;e=5"}});
  removeCookie(request, "proxyos_session");
  // Lines without the cookie are kept byte for byte, emptied lines go.
  EXPECT_EQ(valuesOf(fieldList(request), "Cookie"), (std::vector<std::string>{"a=1", "b=2; c=3", "d=4;e=5"}));
  EXPECT_EQ(valuesOf(fieldList(request), "Accept"), std::vector<std::string>{"*/*"});
}

TEST(SsoRulesCookies, RemoveMatchesTheExactNameOnly) {
  Fields request = makeFields({{"Cookie", "xproxyos_session=1; proxyos_session_old=2; Proxyos_Session=3"}});
  removeCookie(request, "proxyos_session");
  EXPECT_EQ(valuesOf(fieldList(request), "Cookie"),
            std::vector<std::string>{"xproxyos_session=1; proxyos_session_old=2; Proxyos_Session=3"});
}

TEST(SsoRulesCookies, RemoveWithoutCookieFieldIsNoOp) {
  Fields request = makeFields({{"Host", "a.test"}});
  removeCookie(request, "proxyos_session");
  EXPECT_EQ(fieldList(request), (Pairs{{"Host", "a.test"}}));
}

TEST(SsoRulesCookies, ValueFindsTheExactName) {
  const Fields request = makeFields({{"Cookie", "xproxyos_session=bad; proxyos_session_x=bad2"},
                                     {"Cookie", "a=1;proxyos_session=kid.tok.mac;b=2"}});
  EXPECT_EQ(cookieValue(request, "proxyos_session"), "kid.tok.mac");
  EXPECT_EQ(cookieValue(request, "a"), "1");
  EXPECT_EQ(cookieValue(request, "b"), "2");
  EXPECT_EQ(cookieValue(request, "xproxyos_session"), "bad");
  EXPECT_EQ(cookieValue(request, "session"), "");
  EXPECT_EQ(cookieValue(request, "proxyos"), "");
}

TEST(SsoRulesCookies, ValueIsAViewIntoTheRequest) {
  const Fields request = makeFields({{"Cookie", "  proxyos_session=v ; other=1"}});
  const std::string_view v = cookieValue(request, "proxyos_session");
  EXPECT_EQ(v, "v");
  const auto line = toStd(request.find(boost::beast::http::field::cookie)->value());
  EXPECT_GE(v.data(), line.data());
  EXPECT_LE(v.data() + v.size(), line.data() + line.size());
  EXPECT_EQ(cookieValue(makeFields({}), "proxyos_session"), "");
}

// ---------------------------------------------------------------- header_rules: isHopByHop

TEST(SsoRulesHopByHop, FixedListAndStripHopByHopUnchanged) {
  namespace http = boost::beast::http;
  for (const auto f : {http::field::connection, http::field::keep_alive, http::field::proxy_connection,
                       http::field::te, http::field::trailer, http::field::transfer_encoding, http::field::upgrade,
                       http::field::proxy_authorization, http::field::proxy_authenticate})
    EXPECT_TRUE(isHopByHop(f)) << http::to_string(f);
  for (const auto f : {http::field::host, http::field::content_length, http::field::cookie, http::field::unknown})
    EXPECT_FALSE(isHopByHop(f));

  Fields plain = makeFields({{"Connection", "close, X-Drop, Host"}, {"Upgrade", "websocket"}, {"X-Drop", "1"},
                             {"TE", "trailers"}, {"Host", "a.test"}, {"X-Keep", "2"}});
  stripHopByHop(plain, false);
  EXPECT_EQ(fieldList(plain), (Pairs{{"Host", "a.test"}, {"X-Keep", "2"}}));

  Fields tunnel = makeFields({{"Connection", "Upgrade, Keep-Alive"}, {"Upgrade", "websocket"}, {"Keep-Alive", "5"}});
  stripHopByHop(tunnel, true);
  EXPECT_EQ(fieldList(tunnel), (Pairs{{"Upgrade", "websocket"}, {"Connection", "Upgrade"}}));
}

}  // namespace
}  // namespace proxyos::edge
