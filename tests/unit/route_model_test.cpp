// Route model: strict decoding, normalization, validation with field paths,
// and stable JSON output (golden strings).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "shared/model/hostname.h"
#include "shared/model/json_reader.h"
#include "shared/model/route.h"

namespace proxyos::model {
namespace {

const RouteValidationContext kCtx{{"proxy.example.com"}};

// The smallest valid route, with `extra` members appended to it.
std::string route(const std::string& extra = "") {
  std::string body = R"json({"domains":["app.example.com"],"upstreams":["http://app:8080"])json";
  if (!extra.empty()) body += "," + extra;
  return body + "}";
}

std::string listOf(const std::string& item, int count) {
  std::string out = "[";
  for (int i = 0; i < count; ++i) out += (i ? ",\"" : "\"") + std::to_string(i) + item + "\"";
  return out + "]";
}

// ---------------------------------------------------------------------------
// Bad routes: one row per rule.

struct BadCase {
  std::string label;
  std::string body;
  ErrorKind kind;
  std::string code;
  std::string field;
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.label << ": " << c.body.substr(0, 200); }

std::vector<BadCase> badCases() {
  const auto I = ErrorKind::Invalid;
  const auto B = ErrorKind::BadRequest;
  return {
      // JSON syntax and shape
      {"InvalidJson", R"json({"domains":)json", B, "invalid_json", ""},
      {"TopLevelArray", R"json([1,2])json", B, "invalid_json", ""},
      {"DuplicateKey", route(R"json("name":"a","name":"b")json"), B, "invalid_json", ""},
      {"UnknownTopLevel", R"json({"domain":["a.com"],"upstreams":["http://a"]})json", I, "unknown_field", "domain"},
      {"UnknownNested", route(R"json("requestHeaders":{"add":{"X-A":"1"}})json"), I, "unknown_field",
       "requestHeaders.add"},
      // types
      {"DomainsString", R"json({"domains":"a.com","upstreams":["http://a"]})json", I, "invalid_type", "domains"},
      {"DomainsElementNumber", R"json({"domains":["a.com",5],"upstreams":["http://a"]})json", I, "invalid_type",
       "domains[1]"},
      {"ForceHttpsNumber", route(R"json("forceHttps":1)json"), I, "invalid_type", "forceHttps"},
      {"RevisionNegative", route(R"json("revision":-1)json"), I, "invalid_type", "revision"},
      {"IdNumber", route(R"json("id":7)json"), I, "invalid_type", "id"},
      {"HeadersArray", route(R"json("requestHeaders":[])json"), I, "invalid_type", "requestHeaders"},
      {"HeaderValueNumber", route(R"json("requestHeaders":{"set":{"X-A":1}})json"), I, "invalid_type",
       "requestHeaders.set.X-A"},
      // name
      {"NameTooLong", route("\"name\":\"" + std::string(201, 'n') + "\""), I, "invalid_value", "name"},
      {"NameControlChar", route(R"json("name":"a\u0007b")json"), I, "invalid_value", "name"},
      // domains
      {"DomainsMissing", R"json({"upstreams":["http://a"]})json", I, "required", "domains"},
      {"DomainsEmpty", R"json({"domains":[],"upstreams":["http://a"]})json", I, "required", "domains"},
      {"DomainsTooMany", "{\"domains\":" + listOf(".example.com", 101) + ",\"upstreams\":[\"http://a\"]}", I,
       "too_many", "domains"},
      {"WildcardNotLeftmost", R"json({"domains":["a.com","a.*.example.com"],"upstreams":["http://a"]})json", I,
       "invalid_wildcard", "domains[1]"},
      {"WildcardOnTld", R"json({"domains":["*.com"],"upstreams":["http://a"]})json", I, "invalid_wildcard",
       "domains[0]"},
      {"PortInDomain", R"json({"domains":["a.com:8080"],"upstreams":["http://a"]})json", I, "invalid_hostname",
       "domains[0]"},
      {"DomainWhitespace", R"json({"domains":[" a.com"],"upstreams":["http://a"]})json", I, "invalid_hostname",
       "domains[0]"},
      {"DomainTrailingDot", R"json({"domains":["a.com."],"upstreams":["http://a"]})json", I, "invalid_hostname",
       "domains[0]"},
      {"DomainEmptyLabel", R"json({"domains":["a..com"],"upstreams":["http://a"]})json", I, "invalid_hostname",
       "domains[0]"},
      {"DomainUnderscore", R"json({"domains":["my_app.com"],"upstreams":["http://a"]})json", I, "invalid_hostname",
       "domains[0]"},
      {"DomainLeadingHyphen", R"json({"domains":["-a.com"],"upstreams":["http://a"]})json", I, "invalid_hostname",
       "domains[0]"},
      {"DomainLabelTooLong", "{\"domains\":[\"" + std::string(64, 'a') + ".com\"],\"upstreams\":[\"http://a\"]}", I,
       "invalid_hostname", "domains[0]"},
      {"ReservedHost", R"json({"domains":["PROXY.example.com"],"upstreams":["http://a"]})json", I,
       "reserved_domain", "domains[0]"},
      {"DuplicateDomain", R"json({"domains":["a.com","A.COM"],"upstreams":["http://a"]})json", I, "duplicate",
       "domains[1]"},
      // pathPrefix
      {"PathWithoutSlash", route(R"json("pathPrefix":"api")json"), I, "invalid_path", "pathPrefix"},
      {"PathDotDot", route(R"json("pathPrefix":"/a/../b")json"), I, "invalid_path", "pathPrefix"},
      {"PathEncodedDotDot", route(R"json("pathPrefix":"/a/%2E%2e")json"), I, "invalid_path", "pathPrefix"},
      {"PathQuery", route(R"json("pathPrefix":"/a?b=1")json"), I, "invalid_path", "pathPrefix"},
      {"PathSpace", route(R"json("pathPrefix":"/a b")json"), I, "invalid_path", "pathPrefix"},
      {"PathBadPercent", route(R"json("pathPrefix":"/a%2")json"), I, "invalid_path", "pathPrefix"},
      // upstreams
      {"UpstreamsEmpty", R"json({"domains":["a.com"],"upstreams":[]})json", I, "required", "upstreams"},
      {"UpstreamFtp", R"json({"domains":["a.com"],"upstreams":["ftp://files"]})json", I, "invalid_url",
       "upstreams[0]"},
      {"UpstreamNoScheme", R"json({"domains":["a.com"],"upstreams":["http://a","app:8080"]})json", I,
       "invalid_url", "upstreams[1]"},
      {"UpstreamPath", R"json({"domains":["a.com"],"upstreams":["http://a/api"]})json", I, "invalid_url",
       "upstreams[0]"},
      {"UpstreamUserinfo", R"json({"domains":["a.com"],"upstreams":["http://u:p@a"]})json", I, "invalid_url",
       "upstreams[0]"},
      {"UpstreamQuery", R"json({"domains":["a.com"],"upstreams":["http://a/?x=1"]})json", I, "invalid_url",
       "upstreams[0]"},
      {"UpstreamPortRange", R"json({"domains":["a.com"],"upstreams":["http://a:70000"]})json", I, "invalid_url",
       "upstreams[0]"},
      {"DuplicateUpstream", R"json({"domains":["a.com"],"upstreams":["http://a:80/","HTTP://A"]})json", I,
       "duplicate", "upstreams[1]"},
      // tls
      {"TlsModeUnknown", route(R"json("tlsMode":"AUTO")json"), I, "invalid_enum", "tlsMode"},
      {"AutoWithWildcard", R"json({"domains":["a.com","*.a.com"],"upstreams":["http://a"],"tlsMode":"auto"})json",
       I, "invalid_value", "domains[1]"},
      {"ForceHttpsWithTlsOff", route(R"json("forceHttps":true)json"), I, "invalid_value", "forceHttps"},
      // sso
      {"SsoWithoutProvider", route(R"json("ssoEnabled":true)json"), I, "required", "ssoProviderId"},
      {"SsoProviderIdShape", route(R"json("ssoEnabled":true,"ssoProviderId":"My Provider")json"), I,
       "invalid_value", "ssoProviderId"},
      {"GroupWithComma", route(R"json("accessosGroups":["a,b"])json"), I, "invalid_value", "accessosGroups[0]"},
      {"GroupEmpty", route(R"json("accessosGroups":["ok",""])json"), I, "invalid_value", "accessosGroups[1]"},
      {"GroupSpaces", route(R"json("accessosGroups":[" admins"])json"), I, "invalid_value", "accessosGroups[0]"},
      {"DuplicateGroup", route(R"json("accessosGroups":["admins","ops","admins"])json"), I, "duplicate",
       "accessosGroups[2]"},
      // headers
      {"HeaderNameSpace", route(R"json("requestHeaders":{"set":{"X Foo":"1"}})json"), I, "invalid_header_name",
       "requestHeaders.set.X Foo"},
      {"HeaderValueCrlf", route(R"json("responseHeaders":{"set":{"X-Foo":"a\r\nSet-Cookie: x=1"}})json"), I,
       "invalid_header_value", "responseHeaders.set.X-Foo"},
      {"HeaderValueTooLong", route("\"requestHeaders\":{\"set\":{\"X-Big\":\"" + std::string(8193, 'v') + "\"}}"),
       I, "invalid_header_value", "requestHeaders.set.X-Big"},
      {"SetHopByHop", route(R"json("requestHeaders":{"set":{"connection":"close"}})json"), I,
       "invalid_header_name", "requestHeaders.set.connection"},
      {"SetHost", route(R"json("requestHeaders":{"set":{"Host":"other"}})json"), I, "invalid_header_name",
       "requestHeaders.set.Host"},
      {"RemoveContentLength", route(R"json("responseHeaders":{"remove":["Content-Length"]})json"), I,
       "invalid_header_name", "responseHeaders.remove[0]"},
      {"RemoveBadName", route(R"json("responseHeaders":{"remove":["X-Ok","bad:name"]})json"), I,
       "invalid_header_name", "responseHeaders.remove[1]"},
      {"HeaderCaseDuplicate", route(R"json("requestHeaders":{"set":{"X-A":"1","x-a":"2"}})json"), I, "duplicate",
       "requestHeaders.set.x-a"},
  };
}

class BadRouteTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadRouteTest, IsRejectedAtTheField) {
  const BadCase& c = GetParam();
  auto r = parseRoute(c.body, kCtx);
  ASSERT_FALSE(r.ok()) << "accepted: " << toJson(r.value()).dump();
  const Error& e = r.error();
  EXPECT_EQ(e.kind, c.kind) << e.message;
  EXPECT_EQ(e.code, c.code) << e.message;
  EXPECT_EQ(e.field, c.field) << e.message;
  EXPECT_FALSE(e.message.empty());
  if (c.kind == ErrorKind::Invalid) {
    // The message names the field it is about, and the first error is in details.
    EXPECT_EQ(e.message.rfind(c.field + ": ", 0), 0u) << e.message;
    ASSERT_FALSE(e.details.empty());
    EXPECT_EQ(e.details.front().field, c.field);
  }
}

INSTANTIATE_TEST_SUITE_P(Rules, BadRouteTest, ::testing::ValuesIn(badCases()),
                         [](const ::testing::TestParamInfo<BadCase>& info) { return info.param.label; });

// ---------------------------------------------------------------------------
// Error details and messages

TEST(RouteErrors, AllErrorsAreInDetailsFirstIsTheError) {
  auto r = parseRoute(
      R"json({"domains":["ok.com","a.*.b.com"],"upstreams":["ftp://x"],"forceHttps":true,"colour":"red"})json", kCtx);
  ASSERT_FALSE(r.ok());
  std::vector<std::string> fields;
  for (const Error& d : r.error().details) fields.push_back(d.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"colour", "domains[1]", "upstreams[0]", "forceHttps"}));
  EXPECT_EQ(r.error().field, "colour");
  EXPECT_EQ(r.error().code, "unknown_field");
  EXPECT_EQ(httpStatus(r.error().kind), 422);
}

TEST(RouteErrors, MessagesNameTheFieldAndTheProblem) {
  auto wildcard = parseRoute(R"json({"domains":["a.com","a.*.b.com"],"upstreams":["http://a"]})json", kCtx);
  ASSERT_FALSE(wildcard.ok());
  EXPECT_EQ(wildcard.error().message, "domains[1]: wildcard only allowed as the leftmost label");

  auto port = parseRoute(R"json({"domains":["a.com:8080"],"upstreams":["http://a"]})json", kCtx);
  ASSERT_FALSE(port.ok());
  EXPECT_EQ(port.error().message, "domains[0]: must not contain a port; ports belong in upstreams");

  auto scheme = parseRoute(R"json({"domains":["a.com"],"upstreams":["ftp://x"]})json", kCtx);
  ASSERT_FALSE(scheme.ok());
  EXPECT_EQ(scheme.error().message, "upstreams[0]: scheme \"ftp\" is not supported; use http or https");

  auto reserved = parseRoute(R"json({"domains":["proxy.example.com"],"upstreams":["http://a"]})json", kCtx);
  ASSERT_FALSE(reserved.ok());
  EXPECT_NE(reserved.error().message.find("is the dashboard's own host"), std::string::npos);

  auto tls = parseRoute(route(R"json("tlsMode":"on")json"), kCtx);
  ASSERT_FALSE(tls.ok());
  EXPECT_EQ(tls.error().message, "tlsMode: must be one of \"off\", \"internal\", \"auto\"");

  auto force = parseRoute(route(R"json("forceHttps":true)json"), kCtx);
  ASSERT_FALSE(force.ok());
  EXPECT_EQ(force.error().message, "forceHttps: requires tlsMode internal or auto");
}

TEST(RouteErrors, InvalidJsonReportsThePosition) {
  auto r = parseRoute("{\"domains\": [\"a.com\",]}", kCtx);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(httpStatus(r.error().kind), 400);
  EXPECT_NE(r.error().message.find("line 1, column"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find("[json.exception"), std::string::npos) << r.error().message;

  auto notObject = parseRoute("\"a\"", kCtx);
  ASSERT_FALSE(notObject.ok());
  EXPECT_EQ(notObject.error().message, "expected a JSON object");
}

TEST(RouteErrors, TypeMessagesSayWhatWasExpected) {
  auto array = parseRoute(R"json({"domains":"a.com","upstreams":["http://a"]})json", kCtx);
  ASSERT_FALSE(array.ok());
  EXPECT_EQ(array.error().message, "domains: expected an array of strings");
  auto boolean = parseRoute(route(R"json("enabled":"yes")json"), kCtx);
  ASSERT_FALSE(boolean.ok());
  EXPECT_EQ(boolean.error().message, "enabled: expected a boolean");
  auto str = parseRoute(route(R"json("name":["x"])json"), kCtx);
  ASSERT_FALSE(str.ok());
  EXPECT_EQ(str.error().message, "name: expected a string");
}

TEST(RouteErrors, OneMistakeGivesOneError) {
  // A bad tlsMode must not also fail forceHttps; a bad domains type must not also be "required".
  auto r = parseRoute(R"json({"domains":5,"upstreams":["http://a"],"tlsMode":"x","forceHttps":true})json", kCtx);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.error().details.size(), 2u);
  EXPECT_EQ(r.error().details[0].field, "domains");
  EXPECT_EQ(r.error().details[1].field, "tlsMode");
}

TEST(RouteErrors, NestedUnknownFieldDoesNotHideItsSiblings) {
  auto r = parseRoute(route(R"json("requestHeaders":{"add":{},"set":{"Connection":"close"}})json"), kCtx);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.error().details.size(), 2u);
  EXPECT_EQ(r.error().details[0].field, "requestHeaders.add");
  EXPECT_EQ(r.error().details[1].field, "requestHeaders.set.Connection");
  EXPECT_EQ(r.error().details[1].code, "invalid_header_name");
}

TEST(RouteErrors, PathPrefixPrefixesEveryField) {
  auto j = nlohmann::json::parse(R"json({"domains":["ok.com","bad_host.com"],"upstreams":["http://a"],"x":1})json");
  auto r = decodeRoute(j, kCtx, "routes[3]");
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.error().details.size(), 2u);
  EXPECT_EQ(r.error().details[0].field, "routes[3].x");
  EXPECT_EQ(r.error().details[1].field, "routes[3].domains[1]");
  EXPECT_EQ(r.error().details[1].message.rfind("routes[3].domains[1]: ", 0), 0u);

  auto notObject = decodeRoute(nlohmann::json::array(), kCtx, "routes[0]");
  ASSERT_FALSE(notObject.ok());
  EXPECT_EQ(notObject.error().field, "routes[0]");
  EXPECT_EQ(notObject.error().code, "invalid_type");
}

// ---------------------------------------------------------------------------
// Golden output: input -> exact normalized JSON.

struct GoldenCase {
  std::string input;
  std::string expected;
};

TEST(RouteGolden, NormalizedOutput) {
  const std::vector<GoldenCase> cases = {
      // Upper-case domain lower-cased, defaults filled, name from the first domain,
      // upstream trailing slash removed.
      {R"json({"domains":["App.Example.COM"],"upstreams":["http://App:8080/"]})json",
       R"json({"id":"","name":"app.example.com","domains":["app.example.com"],"pathPrefix":"/","upstreams":["http://app:8080"],"tlsMode":"off","forceHttps":false,"ssoEnabled":false,"ssoProviderId":"","accessosGroups":[],"requestHeaders":{"set":{},"remove":[]},"responseHeaders":{"set":{},"remove":[]},"enabled":true,"revision":0,"createdAt":"","updatedAt":""})json"},
      // null = absent; default ports dropped; IPv6 kept bracketed; wildcard kept.
      {R"json({"name":null,"pathPrefix":null,"domains":["*.Apps.example.com","b.example.com"],"upstreams":["HTTPS://backend:443/","http://[::1]:9000"],"tlsMode":"internal","enabled":false})json",
       R"json({"id":"","name":"*.apps.example.com","domains":["*.apps.example.com","b.example.com"],"pathPrefix":"/","upstreams":["https://backend","http://[::1]:9000"],"tlsMode":"internal","forceHttps":false,"ssoEnabled":false,"ssoProviderId":"","accessosGroups":[],"requestHeaders":{"set":{},"remove":[]},"responseHeaders":{"set":{},"remove":[]},"enabled":false,"revision":0,"createdAt":"","updatedAt":""})json"},
      // Fields in any input order come out in the contract's order; header names keep their case.
      {R"json({"updatedAt":"2026-01-02T00:00:00.000Z","responseHeaders":{"remove":["Server"]},"requestHeaders":{"set":{"X-B":"2","X-A":"1"}},"ssoProviderId":"authelia","ssoEnabled":true,"accessosGroups":["admins"],"forceHttps":true,"tlsMode":"auto","upstreams":["http://grafana:3000"],"pathPrefix":"/grafana/","domains":["grafana.example.com"],"name":"Grafana","revision":3,"id":"r1","createdAt":"2026-01-01T00:00:00.000Z"})json",
       R"json({"id":"r1","name":"Grafana","domains":["grafana.example.com"],"pathPrefix":"/grafana/","upstreams":["http://grafana:3000"],"tlsMode":"auto","forceHttps":true,"ssoEnabled":true,"ssoProviderId":"authelia","accessosGroups":["admins"],"requestHeaders":{"set":{"X-A":"1","X-B":"2"},"remove":[]},"responseHeaders":{"set":{},"remove":["Server"]},"enabled":true,"revision":3,"createdAt":"2026-01-01T00:00:00.000Z","updatedAt":"2026-01-02T00:00:00.000Z"})json"},
  };
  for (const auto& c : cases) {
    auto r = parseRoute(c.input, kCtx);
    ASSERT_TRUE(r.ok()) << c.input << "\n" << r.error().message;
    EXPECT_EQ(toJson(r.value()).dump(), c.expected) << c.input;
  }
}

// ---------------------------------------------------------------------------
// A route with every field set.

Route fullRoute() {
  Route r;
  r.id = "01hzy3k8q2m4n6p8r0s2t4v6w8";
  r.name = "Grafana (ops) ✓";
  r.domains = {"grafana.example.com", "*.grafana.example.com", "10.0.0.5"};
  r.pathPrefix = "/dash/%7Euser/v1:2@x";
  r.upstreams = {"http://grafana:3000", "https://[2001:db8::1]:8443", "http://backend_1"};
  r.tlsMode = TlsMode::Internal;
  r.forceHttps = true;
  r.ssoEnabled = true;
  r.ssoProviderId = "builtin_main-1";
  r.accessosGroups = {"admins", "Ops Team", "grafana-viewers"};
  r.requestHeaders.set = {{"X-Forwarded-Prefix", "/dash"}, {"X-Empty", ""}};
  r.requestHeaders.remove = {"X-Auth-User", "Cookie"};
  r.responseHeaders.set = {{"Strict-Transport-Security", "max-age=31536000; includeSubDomains"}};
  r.responseHeaders.remove = {"Server", "X-Powered-By"};
  r.enabled = false;
  r.revision = 42;
  r.createdAt = "2026-01-01T00:00:00.000Z";
  r.updatedAt = "2026-01-02T03:04:05.678Z";
  return r;
}

TEST(RouteDecode, EveryFieldSetDecodesWithoutError) {
  const std::string body = toJson(fullRoute()).dump();
  auto r = parseRoute(body, kCtx);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value(), fullRoute());
}

TEST(RouteDecode, RoundTripIsIdentity) {
  for (const std::string& input :
       {route(), route(R"json("tlsMode":"auto","forceHttps":true,"name":"x")json"), toJson(fullRoute()).dump()}) {
    auto first = parseRoute(input, kCtx);
    ASSERT_TRUE(first.ok()) << first.error().message;
    const auto reparsed = nlohmann::json::parse(toJson(first.value()).dump());
    auto second = decodeRoute(reparsed, kCtx);
    ASSERT_TRUE(second.ok()) << second.error().message;
    EXPECT_EQ(second.value(), first.value());
    EXPECT_EQ(toJson(second.value()).dump(), toJson(first.value()).dump());
  }
}

TEST(RouteDecode, ServerManagedFieldsAreCopied) {
  auto r = parseRoute(route(R"json("id":"abc","revision":7,"createdAt":"c","updatedAt":"u")json"), kCtx);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().id, "abc");
  EXPECT_EQ(r.value().revision, 7u);
  EXPECT_EQ(r.value().createdAt, "c");
  EXPECT_EQ(r.value().updatedAt, "u");
}

TEST(RouteDecode, LimitsAreInclusive) {
  EXPECT_TRUE(parseRoute("{\"domains\":" + listOf(".example.com", 100) + ",\"upstreams\":[\"http://a\"]}", kCtx).ok());
  EXPECT_TRUE(parseRoute(route("\"name\":\"" + std::string(200, 'n') + "\""), kCtx).ok());
  EXPECT_TRUE(parseRoute(route("\"pathPrefix\":\"/" + std::string(1023, 'p') + "\""), kCtx).ok());
  EXPECT_FALSE(parseRoute(route("\"pathPrefix\":\"/" + std::string(1024, 'p') + "\""), kCtx).ok());
  EXPECT_TRUE(parseRoute(route("\"accessosGroups\":[\"" + std::string(128, 'g') + "\"]"), kCtx).ok());
  EXPECT_FALSE(parseRoute(route("\"accessosGroups\":[\"" + std::string(129, 'g') + "\"]"), kCtx).ok());
  EXPECT_TRUE(parseRoute(route("\"ssoProviderId\":\"" + std::string(64, 'p') + "\""), kCtx).ok());
  EXPECT_FALSE(parseRoute(route("\"ssoProviderId\":\"" + std::string(65, 'p') + "\""), kCtx).ok());
  EXPECT_TRUE(parseRoute(route("\"requestHeaders\":{\"set\":{\"X\":\"" + std::string(8192, 'v') + "\"}}"), kCtx).ok());
}

TEST(RouteDecode, TlsModeNamesRoundTrip) {
  for (TlsMode m : {TlsMode::Off, TlsMode::Internal, TlsMode::Auto}) EXPECT_EQ(parseTlsMode(tlsModeName(m)), m);
  EXPECT_FALSE(parseTlsMode("Auto").has_value());
}

// ---------------------------------------------------------------------------
// Host names (shared with other models).

TEST(Hostname, AcceptsRfc1123AndLeftmostWildcard) {
  for (const char* ok : {"a.com", "localhost", "x-1.y2.example.org", "*.example.com", "xn--bcher-kva.example"})
    EXPECT_EQ(hostnameError(ok, true), std::nullopt) << ok;
  EXPECT_EQ(hostnameError(std::string(63, 'a') + ".com", false), std::nullopt);
}

TEST(Hostname, RejectsWithAReason) {
  EXPECT_EQ(hostnameError("*.example.com", false), "wildcards are not allowed here");
  EXPECT_EQ(hostnameError("a.*.example.com", true), "wildcard only allowed as the leftmost label");
  EXPECT_EQ(checkHostname("*.com", true)->code, "invalid_wildcard");
  EXPECT_EQ(checkHostname("*a.example.com", true)->code, "invalid_wildcard");
  EXPECT_EQ(checkHostname("a.com.", true)->code, "invalid_hostname");
  EXPECT_EQ(hostnameError("A.com", true), "must be lower-case");
  EXPECT_EQ(hostnameError("bücher.de", true), "contains non-ASCII characters; use the punycode form (xn--...)");
  EXPECT_TRUE(hostnameError("", true).has_value());
  EXPECT_TRUE(hostnameError("a-.com", true).has_value());
  EXPECT_TRUE(hostnameError("http://a.com", true).has_value());
  std::string longName;
  for (int i = 0; i < 5; ++i) longName += std::string(60, 'a') + ".";
  longName += "com";  // 308 characters
  EXPECT_EQ(hostnameError(longName, true), "is longer than 253 characters");
  EXPECT_EQ(toLowerAscii("MiXeD.COM"), "mixed.com");
}

}  // namespace
}  // namespace proxyos::model
