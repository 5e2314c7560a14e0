// The sso-provider service without a network: the SsoProvider model's strict
// decoding, the presets, ProviderService over MemoryKvStore with a fake
// ProviderUsage, the test request's body and the probe verdict table. The
// real forward-auth requests are in tests/integration/sso_provider_service_test.cpp.
#include <gtest/gtest.h>

#include "presets.h"
#include "provider_probe.h"
#include "provider_service.h"
#include "shared/model/sso_provider.h"
#include "shared/store/memory_kv_store.h"

namespace proxyos::sso {
namespace {

using model::SsoProvider;

// A valid Authelia provider with `extra` members appended.
std::string provider(const std::string& extra = "") {
  std::string body =
      R"({"name":"Authelia","type":"authelia","forwardAuthUrl":"http://authelia:9091/api/authz/forward-auth",)"
      R"("loginUrl":"https://auth.example.com/","authResponseHeaders":["Remote-User","Remote-Groups"],)"
      R"("groupsHeader":"Remote-Groups")";
  return body + (extra.empty() ? "" : "," + extra) + "}";
}

// A body with every required field but the one named, plus `extra`.
std::string without(const std::string& field, const std::string& extra = "") {
  nlohmann::json j = nlohmann::json::parse(provider());
  j.erase(field);
  std::string body = j.dump();
  body.pop_back();
  return body + (extra.empty() ? "" : "," + extra) + "}";
}

// The valid provider with member `key` set to the JSON text `value`.
std::string with(const std::string& key, const std::string& value) { return without(key, "\"" + key + "\":" + value); }

std::string headers(int count) {
  std::string out = "[";
  for (int i = 0; i < count; ++i) out += (i ? ",\"X-H" : "\"X-H") + std::to_string(i) + "\"";
  return out + "]";
}

// ---------------------------------------------------------------------------
// Bad providers: one row per rule.

struct BadCase {
  std::string label, body, code, field;
  ErrorKind kind = ErrorKind::Invalid;
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.label << ": " << c.body.substr(0, 300); }

std::vector<BadCase> badCases() {
  const std::string fwd = "forwardAuthUrl", hdrs = "authResponseHeaders", req = "authRequestHeaders";
  return {
      {"InvalidJson", R"({"name":)", "invalid_json", "", ErrorKind::BadRequest},
      {"DuplicateKey", provider(R"("name":"again")"), "invalid_json", "", ErrorKind::BadRequest},
      {"UnknownField", provider(R"("homepage":"https://x")"), "unknown_field", "homepage"},
      {"NameMissing", without("name"), "required", "name"},
      {"NameTooLong", with("name", "\"" + std::string(201, 'n') + "\""), "invalid_value", "name"},
      {"NameControlChar", with("name", R"("a\u0007b")"), "invalid_value", "name"},
      {"TypeMissing", without("type"), "required", "type"},
      {"TypeUnknown", with("type", R"("okta")"), "invalid_enum", "type"},
      {"TypeWrongCase", with("type", R"("Authelia")"), "invalid_enum", "type"},
      {"TypeNumber", with("type", "1"), "invalid_type", "type"},
      {"ForwardUrlMissing", without(fwd), "required", fwd},
      {"ForwardUrlNoScheme", with(fwd, R"("authelia:9091/x")"), "invalid_url", fwd},
      {"ForwardUrlRelative", with(fwd, R"("/api/verify")"), "invalid_url", fwd},
      {"ForwardUrlFtp", with(fwd, R"("ftp://a/b")"), "invalid_url", fwd},
      {"ForwardUrlUserinfo", with(fwd, R"("http://u:p@a/b")"), "invalid_url", fwd},
      {"ForwardUrlFragment", with(fwd, R"("http://a/b#c")"), "invalid_url", fwd},
      {"ForwardUrlSpace", with(fwd, R"("http://a/b c")"), "invalid_url", fwd},
      {"ForwardUrlBadPort", with(fwd, R"("http://a:99999/")"), "invalid_url", fwd},
      {"LoginUrlMissing", without("loginUrl"), "required", "loginUrl"},
      {"LoginUrlRelative", with("loginUrl", R"("/login")"), "invalid_url", "loginUrl"},
      {"HeaderNotToken", with(hdrs, R"(["Remote-Groups","Remote User"])"), "invalid_header_name", hdrs + "[1]"},
      {"HeaderDuplicateInCase", with(hdrs, R"(["Remote-Groups","Remote-User","remote-user"])"), "duplicate",
       hdrs + "[2]"},
      {"RequestHeaderDuplicate", with(req, R"(["Cookie","COOKIE"])"), "duplicate", req + "[1]"},
      {"HeaderManaged", with(hdrs, R"(["Remote-Groups","Content-Length"])"), "invalid_header_name", hdrs + "[1]"},
      {"HeaderNumber", with(req, "[7]"), "invalid_type", req + "[0]"},
      {"TooManyHeaders", with(req, headers(33)), "too_many", req},
      {"GroupsHeaderNotListed", with("groupsHeader", R"("Remote-Email")"), "invalid_value", "groupsHeader"},
      {"GroupsHeaderNotToken", with("groupsHeader", R"("Remote Groups")"), "invalid_header_name", "groupsHeader"},
      {"SeparatorEmpty", with("groupsSeparator", R"("")"), "invalid_value", "groupsSeparator"},
      {"SeparatorTooLong", with("groupsSeparator", R"("abcde")"), "invalid_value", "groupsSeparator"},
      {"SeparatorControl", with("groupsSeparator", R"("\t")"), "invalid_value", "groupsSeparator"},
      {"TimeoutNegative", with("timeoutMs", "-5"), "invalid_value", "timeoutMs"},
      {"TimeoutZero", with("timeoutMs", "0"), "invalid_value", "timeoutMs"},
      {"TimeoutTooShort", with("timeoutMs", "99"), "invalid_value", "timeoutMs"},
      {"TimeoutTooLong", with("timeoutMs", "60001"), "invalid_value", "timeoutMs"},
      {"TimeoutHuge", with("timeoutMs", "99999999999999"), "invalid_value", "timeoutMs"},
      {"TimeoutFraction", with("timeoutMs", "1500.5"), "invalid_type", "timeoutMs"},
      {"TimeoutString", with("timeoutMs", R"("2000")"), "invalid_type", "timeoutMs"},
      {"CacheTtlNegative", with("cacheTtlSeconds", "-1"), "invalid_value", "cacheTtlSeconds"},
      {"CacheTtlTooLong", with("cacheTtlSeconds", "3601"), "invalid_value", "cacheTtlSeconds"},
      {"RevisionNegative", with("revision", "-1"), "invalid_type", "revision"},
  };
}

class BadProviderTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadProviderTest, IsRejectedAtTheField) {
  const BadCase& c = GetParam();
  auto p = model::parseSsoProvider(c.body);
  ASSERT_FALSE(p.ok()) << "accepted: " << model::toJson(p.value()).dump();
  const Error& e = p.error();
  EXPECT_EQ(e.kind, c.kind) << e.message;
  EXPECT_EQ(e.code, c.code) << e.message;
  EXPECT_EQ(e.field, c.field) << e.message;
  if (c.kind == ErrorKind::Invalid) {
    EXPECT_EQ(httpStatus(e.kind), 422);
    EXPECT_EQ(e.message.rfind(c.field + ": ", 0), 0u) << e.message;
    EXPECT_EQ(e.details.size(), 1u) << "one mistake, one error: " << e.message;
  }
}

INSTANTIATE_TEST_SUITE_P(Rules, BadProviderTest, ::testing::ValuesIn(badCases()),
                         [](const ::testing::TestParamInfo<BadCase>& info) { return info.param.label; });

TEST(SsoProviderModel, MessagesExplainTheRule) {
  auto type = model::parseSsoProvider(with("type", R"("okta")"));
  EXPECT_EQ(type.error().message,
            R"(type: must be one of "authelia", "authentik", "keycloak", "generic", "builtin")");
  auto groups = model::parseSsoProvider(with("groupsHeader", R"("Remote-Email")"));
  EXPECT_NE(groups.error().message.find("must also be listed in authResponseHeaders"), std::string::npos);
  auto dup = model::parseSsoProvider(provider(R"("authRequestHeaders":["Cookie","COOKIE"])"));
  EXPECT_EQ(dup.error().message,
            "authRequestHeaders[1]: duplicates authRequestHeaders[0] (header names are case-insensitive)");
}

TEST(SsoProviderModel, EveryProblemIsReportedUnderThePrefix) {
  auto j = nlohmann::json::parse(without("loginUrl", R"("timeoutMs":-1,"extra":1)"));
  auto p = model::decodeSsoProvider(j, "provider");
  ASSERT_FALSE(p.ok());
  std::vector<std::string> fields;
  for (const auto& e : p.error().details) fields.push_back(e.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"provider.extra", "provider.loginUrl", "provider.timeoutMs"}));
}

TEST(SsoProviderModel, DefaultsAndLimitsAreInclusive) {
  auto p = model::parseSsoProvider(provider());
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p.value().groupsSeparator, ",");
  EXPECT_EQ(p.value().timeoutMs, 2000);
  EXPECT_EQ(p.value().cacheTtlSeconds, 0);
  EXPECT_TRUE(p.value().authRequestHeaders.empty());
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"timeoutMs", "100"}, {"timeoutMs", "60000"}, {"cacheTtlSeconds", "3600"},
           {"groupsSeparator", R"("→→→→")"}, {"authRequestHeaders", headers(32)}})
    EXPECT_TRUE(model::parseSsoProvider(with(key, value)).ok()) << key << "=" << value;
  EXPECT_TRUE(model::parseSsoProvider(with("name", "\"" + std::string(200, 'n') + "\"")).ok());
  // Builtin needs no loginUrl; the groups header matches whatever its case.
  auto builtin = nlohmann::json::parse(without("loginUrl"));
  builtin["type"] = "builtin";
  builtin["groupsHeader"] = "remote-GROUPS";
  EXPECT_TRUE(model::decodeSsoProvider(builtin).ok());
}

TEST(SsoProviderModel, GoldenJsonAndRoundTrip) {
  auto p = model::parseSsoProvider(
      with("forwardAuthUrl", R"("https://Auth.example.com:8443/verify?rd=1","id":"x","revision":4,"createdAt":"c")"
                             R"(,"updatedAt":"u")"));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(model::toJson(p.value()).dump(),
            R"({"id":"x","name":"Authelia","type":"authelia",)"
            R"("forwardAuthUrl":"https://Auth.example.com:8443/verify?rd=1",)"
            R"("loginUrl":"https://auth.example.com/","authResponseHeaders":["Remote-User","Remote-Groups"],)"
            R"("authRequestHeaders":[],"groupsHeader":"Remote-Groups","groupsSeparator":",","timeoutMs":2000,)"
            R"("cacheTtlSeconds":0,"revision":4,"createdAt":"c","updatedAt":"u"})");
  auto again = model::decodeSsoProvider(nlohmann::json::parse(model::toJson(p.value()).dump()));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value(), p.value());
}

// ---------------------------------------------------------------------------
// Presets

TEST(Presets, EveryPresetIsAValidProviderOfItsType) {
  auto presets = makePresets(parseUrl("https://proxy.example.com").value(), parseUrl("http://10.0.0.5:7001").value());
  ASSERT_EQ(presets.size(), model::allSsoProviderTypes().size());
  for (size_t i = 0; i < presets.size(); ++i) {
    const auto json = toJson(presets[i]);
    EXPECT_EQ(json["type"], model::ssoProviderTypeName(model::allSsoProviderTypes()[i]));
    EXPECT_FALSE(json["provider"].contains("id")) << "a preset is POSTed as it is";
    auto decoded = model::decodeSsoProvider(nlohmann::json::parse(json["provider"].dump()));
    ASSERT_TRUE(decoded.ok()) << json["name"] << ": " << decoded.error().message;
    EXPECT_EQ(decoded.value().type, presets[i].type);
  }
  const auto& builtin = presets.back().provider;
  EXPECT_EQ(builtin.forwardAuthUrl, "http://10.0.0.5:7001/api/auth/verify");
  EXPECT_EQ(builtin.loginUrl, "https://proxy.example.com/login");
  const auto& authentik = presets[1].provider;
  EXPECT_EQ(authentik.groupsSeparator, "|");
  EXPECT_EQ(authentik.authResponseHeaders.size(), 5u);
  EXPECT_EQ(presetsJson(presets)["presets"][0]["provider"]["groupsHeader"], "Remote-Groups");
}

// ---------------------------------------------------------------------------
// ProviderService

/// Routes as a test sets them; records what it was asked to check.
class FakeUsage final : public ProviderUsage {
 public:
  Result<std::vector<std::string>> routesUsing(const std::string& id) override {
    if (unavailable) return Error::make(ErrorKind::Unavailable, "dependency_unavailable", "registry down");
    return routes[id];
  }
  Status checkUrlsAgainstRoutes(const SsoProvider& p) override {
    checked.push_back(p);
    if (loop) return Error{ErrorKind::Invalid, "sso_redirect_loop", "loginUrl: loop", "loginUrl", {}};
    return okStatus();
  }
  std::map<std::string, std::vector<std::string>> routes;
  std::vector<SsoProvider> checked;
  bool unavailable = false, loop = false;
};

class ProviderServiceTest : public ::testing::Test {
 protected:
  SsoProvider draft() { return model::parseSsoProvider(provider()).value(); }
  FakeClock clock;
  store::MemoryKvStore kv{clock};
  FakeUsage usage;
  ProviderService svc{kv, clock, usage};
};

TEST_F(ProviderServiceTest, CreateAssignsIdRevisionAndTimestampsListIsOldestFirst) {
  auto d = draft();
  d.id = "01clientchosen000000000000";
  auto p = svc.create(d);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_NE(p.value().id, d.id) << "ids are the server's";
  EXPECT_GT(p.value().revision, 0u);
  EXPECT_EQ(p.value().createdAt, "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(svc.get(p.value().id).value(), p.value());
  EXPECT_EQ(kv.keys(), std::vector<std::string>{providerKey(p.value().id)});
  EXPECT_TRUE(usage.checked.empty()) << "a new id cannot be used by a route yet";
  clock.advance(std::chrono::milliseconds(5));
  auto second = svc.create(draft()).value();
  auto all = svc.list().value();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0], p.value()) << "oldest first";
  EXPECT_EQ(all[1].id, second.id);
  EXPECT_EQ(svc.get("01nosuchprovider0000000000").error().code, "provider_not_found");
  EXPECT_EQ(svc.get("../etc").error().kind, ErrorKind::NotFound);
}

TEST_F(ProviderServiceTest, IfMatchGuardsReplaceAndPatch) {
  auto p = svc.create(draft()).value();
  clock.advance(std::chrono::seconds(90));
  auto renamed = draft();
  renamed.name = "Renamed";
  auto replaced = svc.replace(p.id, renamed, p.revision);
  ASSERT_TRUE(replaced.ok()) << replaced.error().message;
  EXPECT_EQ(replaced.value().createdAt, p.createdAt);
  EXPECT_EQ(replaced.value().updatedAt, "2026-01-01T00:01:30.000Z");
  auto stale = svc.patch(p.id, nlohmann::json{{"name", "lost"}}, p.revision);
  EXPECT_EQ(stale.error().kind, ErrorKind::PreconditionFailed);
  EXPECT_EQ(svc.get(p.id).value().name, "Renamed");
  auto patched = svc.patch(p.id, nlohmann::json{{"timeoutMs", 5000}}, replaced.value().revision);
  ASSERT_TRUE(patched.ok()) << patched.error().message;
  EXPECT_EQ(patched.value().timeoutMs, 5000);
  EXPECT_EQ(patched.value().name, "Renamed");
}

TEST_F(ProviderServiceTest, PatchIsValidatedWithFieldPaths) {
  auto p = svc.create(draft()).value();
  auto bad = svc.patch(p.id, nlohmann::json{{"authResponseHeaders", {"Remote-User"}}}, std::nullopt);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().field, "groupsHeader") << "the groups header left the list";
  auto id = draft();
  id.id = "01someotherid0000000000000";
  EXPECT_EQ(svc.replace(p.id, id, std::nullopt).error().code, "id_mismatch");
}

TEST_F(ProviderServiceTest, UpdatesAreCheckedAgainstRoutesBeforeWriting) {
  auto p = svc.create(draft()).value();
  usage.loop = true;
  auto refused = svc.patch(p.id, nlohmann::json{{"loginUrl", "https://app.example.com/"}}, std::nullopt);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "sso_redirect_loop");
  ASSERT_EQ(usage.checked.size(), 1u);
  EXPECT_EQ(usage.checked[0].id, p.id);
  EXPECT_EQ(usage.checked[0].loginUrl, "https://app.example.com/") << "checked as it would be stored";
  EXPECT_EQ(svc.get(p.id).value(), p) << "nothing written";
}

TEST_F(ProviderServiceTest, DeleteRefusesWhileRoutesUseIt) {
  auto p = svc.create(draft()).value();
  usage.routes[p.id] = {"01routea", "01routeb"};
  const Error refused = svc.remove(p.id, std::nullopt).error();
  EXPECT_EQ(refused.kind, ErrorKind::Conflict);
  EXPECT_EQ(refused.code, "provider_in_use");
  EXPECT_NE(refused.message.find("2 routes: 01routea, 01routeb"), std::string::npos) << refused.message;
  usage.unavailable = true;
  EXPECT_EQ(svc.remove(p.id, std::nullopt).error().kind, ErrorKind::Unavailable) << "fails closed";
  EXPECT_TRUE(svc.get(p.id).ok());
  usage.unavailable = false;
  usage.routes.clear();
  EXPECT_EQ(svc.remove(p.id, p.revision + 1).error().kind, ErrorKind::PreconditionFailed);
  ASSERT_TRUE(svc.remove(p.id, p.revision).ok());
  EXPECT_EQ(svc.get(p.id).error().kind, ErrorKind::NotFound);
  EXPECT_EQ(svc.remove(p.id, std::nullopt).error().kind, ErrorKind::NotFound);
}

TEST_F(ProviderServiceTest, StoreOutageIsUnavailable) {
  kv.failWrites(1);
  EXPECT_EQ(svc.create(draft()).error().kind, ErrorKind::Unavailable);
  EXPECT_TRUE(kv.keys().empty());
}

// ---------------------------------------------------------------------------
// The test request's body

TEST(ProbeRequestBody, CredentialsAndTheUnsavedProvider) {
  EXPECT_TRUE(parseProbeRequest(" ", false).value().credentials.empty());
  auto creds = parseProbeRequest(R"({"cookie":"s=1","authorization":"Bearer t"})", false).value();
  EXPECT_EQ(creds.credentials.cookie, "s=1");
  EXPECT_EQ(creds.credentials.authorization, "Bearer t");
  auto unsaved = parseProbeRequest(R"({"provider":)" + provider() + "}", true);
  ASSERT_TRUE(unsaved.ok()) << unsaved.error().message;
  EXPECT_EQ(unsaved.value().provider->name, "Authelia");

  auto expectError = [](const std::string& body, bool isUnsaved, const std::string& code, const std::string& field) {
    auto r = parseProbeRequest(body, isUnsaved);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().code, code) << r.error().message;
    EXPECT_EQ(r.error().field, field) << r.error().message;
  };
  expectError("{}", true, "required", "provider");
  expectError(R"({"provider":)" + without("forwardAuthUrl") + "}", true, "required", "provider.forwardAuthUrl");
  expectError(R"({"provider":)" + provider(R"("timeoutMs":-1)") + "}", true, "invalid_value", "provider.timeoutMs");
  expectError(R"({"provider":)" + provider() + "}", false, "unknown_field", "provider");
  expectError(R"({"cookies":"x"})", false, "unknown_field", "cookies");
  expectError(R"({"cookie":")" + std::string(8193, 'c') + "\"}", false, "invalid_value", "cookie");
  expectError("[1]", false, "invalid_json", "");
  // No body at all: the saved provider, without credentials.
  EXPECT_TRUE(parseProbeRequest("", false).ok());
  EXPECT_TRUE(parseProbeRequest(" \n", false).ok());
}

// ---------------------------------------------------------------------------
// Verdicts: a pure function from what the probe saw to a verdict and a sentence.

ProbeFacts answered(int status, std::vector<std::string> names = {}, std::string location = "") {
  return {true, status, 12, std::move(names), std::move(location), ""};
}
ProbeFacts unreachable(std::string error) { return {false, 0, 3, {}, "", std::move(error)}; }

struct VerdictCase {
  std::string label;
  ProbeFacts facts;
  bool withCredentials;
  Verdict verdict;
  std::string message;
  std::vector<std::string> missing = {};
  std::vector<std::pair<std::string, std::string>> hints = {};
};

void PrintTo(const VerdictCase& c, std::ostream* os) { *os << c.label; }

std::vector<VerdictCase> verdictCases() {
  const Verdict ok = Verdict::Ok, warning = Verdict::Warning, error = Verdict::Error;
  const std::vector<std::string> all{"Remote-User", "Remote-Email", "Remote-Groups", "Date"};
  const std::string looksOk = ": looks like a forward-auth endpoint", allHeaders = "every configured header",
                    notFa = ": not a forward-auth endpoint (check forwardAuthUrl's path)",
                    other = ", where a forward-auth endpoint answers 2xx, 401 or a redirect",
                    failing = ": the provider is failing, and the edge would answer 503",
                    anon200 = "answered 200 to a request without credentials — is this really the forward-auth "
                              "endpoint? Everyone would be let in",
                    accepted = "accepted the credentials and returned " + allHeaders;
  return {
      {"Refused", unreachable("connection refused"), false, error, "cannot reach the provider: connection refused"},
      {"TimedOut", unreachable("timed out after 1000 ms"), true, error,
       "cannot reach the provider: timed out after 1000 ms"},
      {"AnonymousRedirect", answered(302, {"Location"}, "https://auth.example.com/login"), false, ok,
       "redirects anonymous users to https://auth.example.com/login" + looksOk},
      {"RedirectWithoutLocation", answered(302), false, warning,
       "answered 302 without a Location header, so browsers would be stuck"},
      {"RedirectDespiteCredentials", answered(303, {"Location"}, "https://a/"), true, warning,
       "redirected to https://a/ although credentials were sent: they were not accepted"},
      {"Anonymous401", answered(401), false, ok, "answered 401 to a request without credentials" + looksOk},
      {"Credentials401", answered(401), true, warning,
       "answered 401: the endpoint asks for a login but refused the credentials sent"},
      {"Anonymous200", answered(200, {"Remote-User"}), false, warning, anon200, {"Remote-Email", "Remote-Groups"}},
      {"AnonymousWithAllHeaders", answered(200, all), false, warning, anon200},
      {"CredentialsAllHeaders", answered(200, all), true, ok, accepted},
      {"CredentialsMissing", answered(200, {"Remote-User", "remote-email"}), true, warning,
       "accepted the credentials but did not return Remote-Groups", {"Remote-Groups"},
       {{"Remote-Email", "remote-email"}}},
      {"CredentialsMissingAll", answered(204, {"Server"}), true, warning,
       "accepted the credentials but did not return Remote-User, Remote-Email, Remote-Groups",
       {"Remote-User", "Remote-Email", "Remote-Groups"}},
      {"CredentialsOtherSpelling", answered(200, {"remote-user", "REMOTE-EMAIL", "Remote-Groups"}), true, ok, accepted,
       {}, {{"Remote-User", "remote-user"}, {"Remote-Email", "REMOTE-EMAIL"}}},
      {"NotFound", answered(404, {"Remote-User"}), false, error, "answered 404" + notFa},
      {"MethodNotAllowed", answered(405), true, error, "answered 405" + notFa},
      {"Forbidden", answered(403), false, warning, "answered 403" + other},
      {"BadRequest", answered(400), true, warning, "answered 400" + other},
      {"ServerError", answered(500), false, error, "answered 500" + failing},
      {"BadGatewayWithCredentials", answered(502, all), true, error, "answered 502" + failing},
      {"Informational", answered(101), false, error, "answered 101, which is not a final HTTP status"},
  };
}

class VerdictTest : public ::testing::TestWithParam<VerdictCase> {};

TEST_P(VerdictTest, Judges) {
  const VerdictCase& c = GetParam();
  SsoProvider p = model::parseSsoProvider(provider()).value();
  p.authResponseHeaders = {"Remote-User", "Remote-Email", "Remote-Groups"};
  const auto r = assessProbe(p, c.facts, c.withCredentials);
  EXPECT_EQ(verdictName(r.verdict), verdictName(c.verdict));
  EXPECT_EQ(r.message, c.message);
  EXPECT_EQ(r.missingHeaders, c.missing);
  std::vector<std::pair<std::string, std::string>> hints;
  for (const auto& h : r.caseHints) hints.emplace_back(h.configured, h.returned);
  EXPECT_EQ(hints, c.hints);
  EXPECT_EQ(r.facts.status, c.facts.status);
}

INSTANTIATE_TEST_SUITE_P(Table, VerdictTest, ::testing::ValuesIn(verdictCases()),
                         [](const ::testing::TestParamInfo<VerdictCase>& info) { return info.param.label; });

TEST(Verdict, NothingBelow500PassesBlindly) {
  SsoProvider p = model::parseSsoProvider(provider()).value();
  for (int status = 100; status < 600; ++status) {
    const bool anonymousOk = assessProbe(p, answered(status), false).verdict == Verdict::Ok;
    EXPECT_EQ(anonymousOk, status == 401) << status;
    const bool credentialsOk =
        assessProbe(p, answered(status, {"Remote-User", "Remote-Groups"}), true).verdict == Verdict::Ok;
    EXPECT_EQ(credentialsOk, status >= 200 && status < 300) << status;
  }
}

TEST(Verdict, ReportJsonInContractOrder) {
  SsoProvider p = model::parseSsoProvider(provider()).value();
  const auto j = toJson(assessProbe(p, answered(200, {"remote-user"}), true));
  EXPECT_EQ(j.dump(),
            R"({"reachable":true,"status":200,"latencyMs":12,"headersReturned":["remote-user"],)"
            R"("missingHeaders":["Remote-Groups"],"caseHints":[{"configured":"Remote-User","returned":"remote-user"}],)"
            R"("redirectLocation":"","error":"","verdict":"warning",)"
            R"("message":"accepted the credentials but did not return Remote-Groups"})");
}

}  // namespace
}  // namespace proxyos::sso
