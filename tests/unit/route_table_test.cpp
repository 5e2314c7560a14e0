// The edge's route table (matching rules of ARCHITECTURE.md §2 step 2), the
// table holder, and the last-known-good file.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "services/edge-proxy/last_known_good.h"
#include "services/edge-proxy/route_table.h"
#include "services/edge-proxy/table_holder.h"
#include "tests/support/read_file.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait.h"

namespace proxyos::edge {
namespace {

constexpr const char* kProviderJson =
    R"({"name":"Authelia","type":"authelia","forwardAuthUrl":"http://authelia:9091/api/authz/forward-auth?x=1","loginUrl":"https://auth.example.com/","authResponseHeaders":["Remote-User"]})";

constexpr const char* kSystemHost = "dash.example.com";

model::Route makeRoute(std::string id, std::vector<std::string> domains, std::string prefix = "/",
                       std::vector<std::string> upstreams = {"http://backend:8080"}) {
  model::Route r;
  r.id = std::move(id);
  r.name = r.id;
  r.domains = std::move(domains);
  r.pathPrefix = std::move(prefix);
  r.upstreams = std::move(upstreams);
  return r;
}

std::shared_ptr<const RouteTable> buildTable(std::vector<model::Route> routes, std::string systemHost = kSystemHost) {
  ConfigSnapshot snapshot;
  snapshot.routes = std::move(routes);
  snapshot.revision = 7;
  auto table = RouteTable::build(std::move(snapshot), std::move(systemHost));
  EXPECT_TRUE(table.ok()) << table.error().message;
  return table.ok() ? table.value() : nullptr;
}

std::string matchId(const RouteTable& table, std::string_view host, std::string_view path) {
  const MatchedRoute* m = table.match(host, path);
  if (m == nullptr) return "<none>";
  if (m->kind == MatchKind::System) return "<system>";
  return m->route.id;
}

std::vector<model::Route> sampleRoutes() {
  auto disabled = makeRoute("disabled", {"disabled.test"});
  disabled.enabled = false;
  return {makeRoute("exact", {"a.example.com"}),
          makeRoute("wild", {"*.example.com"}),
          makeRoute("api-root", {"api.example.com"}),
          makeRoute("api", {"api.example.com"}, "/api"),
          makeRoute("api-v2", {"api.example.com"}, "/api/v2/"),
          makeRoute("only-x", {"only.example.com"}, "/x"),
          makeRoute("shadow", {"dash.example.com", "other.test"}),
          disabled};
}

struct MatchCase {
  const char* host;
  const char* path;
  const char* expected;
};

TEST(RouteTableTest, MatchingRules) {
  auto table = buildTable(sampleRoutes());
  ASSERT_NE(table, nullptr);
  const MatchCase cases[] = {
      {"a.example.com", "/", "exact"},            // exact beats wildcard
      {"A.Example.COM", "/x", "exact"},           // host is case-insensitive
      {"a.example.com:8080", "/", "exact"},       // port stripped
      {"a.example.com.", "/", "exact"},           // fully qualified spelling
      {"b.example.com", "/anything", "wild"},     // one-label wildcard
      {"B.EXAMPLE.COM:443", "/", "wild"},
      {"x.b.example.com", "/", "<none>"},         // wildcard covers one label only
      {"example.com", "/", "<none>"},             // ... and not the apex
      {".example.com", "/", "<none>"},            // empty label
      {"api.example.com", "/api", "api"},         // path == prefix
      {"api.example.com", "/api/users", "api"},   // prefix then '/'
      {"api.example.com", "/apiary", "api-root"}, // "/api" is not a prefix of "/apiary"
      {"api.example.com", "/api/v2/items", "api-v2"},  // longest prefix wins
      {"api.example.com", "/api/v2", "api"},      // "/api/v2/" needs the slash
      {"api.example.com", "/api?q=1", "api"},     // query ignored
      {"api.example.com", "/", "api-root"},
      {"only.example.com", "/x/1", "only-x"},
      {"only.example.com", "/y", "wild"},         // exact host's prefixes miss: wildcard serves
      {"disabled.test", "/", "<none>"},           // disabled routes are not in the table
      {"dash.example.com", "/api/routes", "<system>"},  // system host reserved ...
      {"Dash.Example.Com:8443", "/", "<system>"},
      {"other.test", "/", "shadow"},              // ... the route's other domains still work
      {"unknown.test", "/", "<none>"},
      {"", "/", "<none>"},
      {"a.example.com:http", "/", "<none>"},      // not a port
      {"[::1]:8080", "/", "<system>"},            // an address no route claims: the dashboard
      {"127.0.0.1:8080", "/login", "<system>"},
      {"[::1", "/", "<none>"},
      {"1.2.3", "/", "<none>"},                   // not an address
      {"1.2.3.256", "/", "<none>"},
  };
  for (const auto& c : cases)
    EXPECT_EQ(matchId(*table, c.host, c.path), c.expected) << c.host << c.path;
  EXPECT_EQ(table->routeCount(), 7u);
  EXPECT_EQ(table->revision(), 7u);
}

TEST(RouteTableTest, SystemHostMayBeAnIpv6Literal) {
  // PROXYOS_URL=http://[::1]:8080 gives the host "::1" (parseUrl drops brackets).
  auto table = buildTable({makeRoute("r", {"app.test"})}, "::1");
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(matchId(*table, "[::1]:8080", "/"), "<system>");
  EXPECT_EQ(matchId(*table, "[::1]", "/"), "<system>");
  EXPECT_EQ(matchId(*table, "[::2]:8080", "/"), "<system>");  // any address no route claims
  EXPECT_EQ(matchId(*table, "app.test", "/"), "r");

  auto noSystem = buildTable({makeRoute("r", {"app.test"})}, "");
  ASSERT_NE(noSystem, nullptr);
  EXPECT_EQ(matchId(*noSystem, "app.test", "/"), "r");
  EXPECT_EQ(matchId(*noSystem, "127.0.0.1", "/"), "<none>");  // no dashboard, no fallback
}

TEST(RouteTableTest, AnAddressARouteClaimsIsThatRoutes) {
  auto table = buildTable({makeRoute("by-ip", {"192.0.2.10"}), makeRoute("api", {"192.0.2.10"}, "/api")},
                          "dash.example.com");
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(matchId(*table, "192.0.2.10:8080", "/"), "by-ip");
  EXPECT_EQ(matchId(*table, "192.0.2.10", "/api/x"), "api");
  EXPECT_EQ(matchId(*table, "192.0.2.11", "/"), "<system>");
  EXPECT_TRUE(isIpLiteral("10.0.0.1"));
  EXPECT_TRUE(isIpLiteral("fe80::1"));
  EXPECT_FALSE(isIpLiteral("example.com"));
  EXPECT_FALSE(isIpLiteral("10.0.0"));
  EXPECT_FALSE(isIpLiteral(""));
}

TEST(RouteTableTest, NormalizeHost) {
  char buf[16];
  EXPECT_EQ(normalizeHost("[::1]:8080", buf, sizeof buf), "::1");
  EXPECT_EQ(normalizeHost("Host.Test:80", buf, sizeof buf), "host.test");
  EXPECT_EQ(normalizeHost("[::1]x", buf, sizeof buf), "");
  EXPECT_EQ(normalizeHost("a-very-long-host.example", buf, sizeof buf), "") << "longer than the buffer";
}

TEST(RouteTableTest, PathPrefixRule) {
  EXPECT_TRUE(pathPrefixMatches("/", "/anything"));
  EXPECT_TRUE(pathPrefixMatches("/api", "/api"));
  EXPECT_TRUE(pathPrefixMatches("/api", "/api/"));
  EXPECT_TRUE(pathPrefixMatches("/api/", "/api/x"));
  EXPECT_FALSE(pathPrefixMatches("/api", "/apiary"));
  EXPECT_FALSE(pathPrefixMatches("/api/", "/api"));
  EXPECT_FALSE(pathPrefixMatches("/api", "/ap"));
  EXPECT_FALSE(pathPrefixMatches("/API", "/api")) << "paths are case-sensitive";
}

TEST(RouteTableTest, MatchedRouteCarriesParsedUpstreamsAndSettings) {
  auto r = makeRoute("r", {"app.test"}, "/", {"https://secure.internal", "http://[::1]:9000", "http://plain:81"});
  r.tlsMode = model::TlsMode::Internal;
  r.forceHttps = true;
  r.ssoEnabled = true;
  r.ssoProviderId = "p1";
  r.accessosGroups = {"admins"};
  r.requestHeaders.set = {{"X-Env", "prod"}};
  ConfigSnapshot snapshot;
  snapshot.routes = {r};
  snapshot.providersJson = {{"p1", kProviderJson}, {"p3", R"({"name":"no type"})"}};
  auto table = RouteTable::build(snapshot, kSystemHost).value();
  const MatchedRoute* m = table->match("app.test", "/");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->route, r);
  const std::vector<UpstreamEndpoint> expected = {
      {"https", "secure.internal", 443, true}, {"http", "::1", 9000, false}, {"http", "plain", 81, false}};
  EXPECT_EQ(m->upstreams, expected);
  // The provider is decoded once, with its forward-auth URL split for the data plane.
  const SsoProviderEntry* p = table->provider("p1");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(m->provider, p);
  EXPECT_EQ(p->provider.id, "p1");
  EXPECT_FALSE(p->builtin);
  EXPECT_EQ(p->endpoint, (UpstreamEndpoint{"http", "authelia", 9091, false}));
  EXPECT_EQ(p->authTarget, "/api/authz/forward-auth?x=1");
  EXPECT_EQ(p->authHost, "authelia:9091");
  EXPECT_EQ(p->identityNames, (std::vector<std::string>{"X-Auth-User", "X-Auth-Email", "X-Auth-Groups", "Remote-User"}))
      << "the built-in names, then the provider's: removed from every request of its routes";
  EXPECT_EQ(table->provider("p2"), nullptr);
  EXPECT_EQ(table->provider("p3"), nullptr) << "a provider that does not decode is left out";
  EXPECT_EQ(table->inputs(), snapshot);
}

TEST(RouteTableTest, UnparsableUpstreamFailsTheBuild) {
  ConfigSnapshot snapshot;
  snapshot.routes = {makeRoute("ok", {"ok.test"}), makeRoute("bad", {"bad.test"}, "/", {"ftp://files"})};
  auto table = RouteTable::build(snapshot, kSystemHost);
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.error().field, "routes[1].upstreams[0]");
}

TEST(RouteTableTest, TenThousandRoutes) {
  std::vector<model::Route> routes;
  for (int i = 0; i < 5000; ++i) routes.push_back(makeRoute("h" + std::to_string(i), {"h" + std::to_string(i) + ".bulk.test"}));
  for (int i = 0; i < 5000; ++i)
    routes.push_back(makeRoute("p" + std::to_string(i), {"paths.bulk.test"}, "/p" + std::to_string(i)));
  routes.push_back(makeRoute("wild", {"*.bulk.test"}));
  auto table = buildTable(std::move(routes));
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(table->routeCount(), 10001u);
  for (int i = 0; i < 5000; ++i) {
    ASSERT_EQ(matchId(*table, "h" + std::to_string(i) + ".bulk.test", "/x"), "h" + std::to_string(i));
    // "/p12" must not catch "/p123": each path finds exactly its own prefix.
    ASSERT_EQ(matchId(*table, "paths.bulk.test", "/p" + std::to_string(i) + "/x"), "p" + std::to_string(i));
  }
  EXPECT_EQ(matchId(*table, "h5000.bulk.test", "/"), "wild");
  EXPECT_EQ(matchId(*table, "paths.bulk.test", "/q"), "wild");
}

TEST(TableHolderTest, RequestsInFlightKeepTheirTable) {
  TableHolder holder;
  EXPECT_FALSE(holder.ready());
  EXPECT_EQ(holder.current(), nullptr);
  holder.publish(buildTable({makeRoute("old", {"app.test"})}));
  ASSERT_TRUE(holder.ready());
  auto inFlight = holder.current();
  holder.publish(buildTable({makeRoute("new", {"app.test"})}));
  EXPECT_EQ(matchId(*inFlight, "app.test", "/"), "old");
  EXPECT_EQ(matchId(*holder.current(), "app.test", "/"), "new");
  holder.publish(nullptr);
  EXPECT_TRUE(holder.ready()) << "a null table never unpublishes";
  EXPECT_EQ(holder.revision(), 7u);
}

// Routes as the model normalizes them, so a decode of their JSON is equal.
ConfigSnapshot sampleSnapshot() {
  ConfigSnapshot s;
  auto sso = makeRoute("r1", {"app.test", "*.apps.test"}, "/api", {"http://backend:8080", "https://b2"});
  sso.ssoEnabled = true;
  sso.ssoProviderId = "p1";
  sso.revision = 12;
  sso.responseHeaders.remove = {"Server"};
  auto off = makeRoute("r2", {"off.test"});
  off.enabled = false;
  s.routes = {sso, off};
  s.providersJson = {{"p1", kProviderJson}};
  s.revision = 40;
  s.providersRevision = 3;
  return s;
}

TEST(LastKnownGoodTest, RoundTrip) {
  testing::TempDir dir;
  LastKnownGood file(dir.path() + "/data");  // created on first save
  EXPECT_EQ(file.load().error().kind, ErrorKind::NotFound);
  const ConfigSnapshot snapshot = sampleSnapshot();
  ASSERT_TRUE(file.save(snapshot).ok());
  auto loaded = file.load();
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded.value(), snapshot);
  EXPECT_EQ(file.path(), dir.path() + "/data/edge-config.json");
  // Replaced by rename: no temp file is left behind.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path() + "/data")) files += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 1);
}

TEST(LastKnownGoodTest, RestoreAtStartMakesTheEdgeReady) {
  testing::TempDir dir;
  LastKnownGood file(dir.path());
  TableHolder holder;
  EXPECT_EQ(restoreLastKnownGood(file, holder, kSystemHost).error().kind, ErrorKind::NotFound);
  EXPECT_FALSE(holder.ready());

  applyTable(RouteTable::build(sampleSnapshot(), kSystemHost).value(), holder, &file);
  TableHolder restarted;
  ASSERT_TRUE(restoreLastKnownGood(file, restarted, kSystemHost).ok());
  ASSERT_TRUE(restarted.ready());
  EXPECT_EQ(restarted.revision(), 40u);
  EXPECT_EQ(matchId(*restarted.current(), "x.apps.test", "/api/1"), "r1");
  EXPECT_EQ(matchId(*restarted.current(), "off.test", "/"), "<none>");
  EXPECT_EQ(matchId(*restarted.current(), kSystemHost, "/"), "<system>");
}

TEST(LastKnownGoodTest, CorruptFileIsACleanErrorAndTheOldTableStays) {
  testing::TempDir dir;
  LastKnownGood file(dir.path());
  TableHolder holder;
  holder.publish(buildTable({makeRoute("current", {"app.test"})}));

  const std::string good = encodeSnapshot(sampleSnapshot());
  auto withRoute = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  const struct {
    std::string content;
    std::string inMessage;
  } corrupt[] = {
      {"", "invalid JSON"},
      {good.substr(0, good.size() / 2), "invalid JSON"},  // torn write
      {"[1,2]", "expected a JSON object"},
      {withRoute(R"("format":1)", R"("format":2)"), "format 2 is not supported"},
      {withRoute(R"("format":1,)", ""), "format: is required"},
      {withRoute(R"("providersRevision")", R"("extra":1,"providersRevision")"), "extra"},
      {withRoute("http://backend:8080", "ftp://backend"), "routes[0].upstreams[0]"},
      {withRoute(R"("routes":[)", R"("routes":[17,)"), "routes[0]"},
  };
  for (const auto& c : corrupt) {
    std::ofstream(file.path(), std::ios::binary | std::ios::trunc) << c.content;
    auto s = restoreLastKnownGood(file, holder, kSystemHost);
    ASSERT_FALSE(s.ok()) << c.content;
    EXPECT_EQ(s.error().kind, ErrorKind::Invalid) << c.content;
    EXPECT_EQ(s.error().code, "corrupt_last_known_good");
    EXPECT_NE(s.error().message.find(c.inMessage), std::string::npos) << s.error().message;
    EXPECT_NE(s.error().message.find(file.path()), std::string::npos) << "names the file";
    EXPECT_EQ(matchId(*holder.current(), "app.test", "/"), "current") << "old table kept";
  }
}

TEST(LastKnownGoodTest, SaveReportsAnUnwritableDirectory) {
  testing::TempDir dir;
  std::ofstream(dir.path() + "/file") << "x";
  LastKnownGood file(dir.path() + "/file/sub");  // a path under a regular file
  auto s = file.save(sampleSnapshot());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::Unavailable);
}

TEST(RouteTableTest, TablesShareUnchangedRoutesAndNeverAChangedOne) {
  ConfigSnapshot first;
  first.routes = {makeRoute("same", {"same.test"}), makeRoute("changed", {"changed.test"})};
  first.revision = 1;
  auto before = RouteTable::build(first, kSystemHost).value();

  // As the config source builds the next snapshot: the unchanged route's
  // shared object, and a new object for the changed one.
  ConfigSnapshot second;
  second.routes.push_back(first.routes.ptr(0));
  second.routes.push_back(makeRoute("changed", {"changed.test"}, "/", {"http://other:9"}));
  second.revision = 2;
  auto after = RouteTable::build(second, kSystemHost).value();

  EXPECT_EQ(&before->match("same.test", "/")->route, &after->match("same.test", "/")->route)
      << "an unchanged route is one object in both tables";
  EXPECT_EQ(&after->match("same.test", "/")->route, &after->inputs().routes[0]) << "not a copy of inputs()";
  EXPECT_NE(&before->match("changed.test", "/")->route, &after->match("changed.test", "/")->route);
  EXPECT_EQ(before->match("changed.test", "/")->route.upstreams.at(0), "http://backend:8080")
      << "the old table keeps serving the old version";
  EXPECT_EQ(after->match("changed.test", "/")->route.upstreams.at(0), "http://other:9");
  EXPECT_EQ(after->match("changed.test", "/")->upstreams.at(0).host, "other");

  // The routes outlive the snapshots they were built from.
  first = {};
  second = {};
  before.reset();
  EXPECT_EQ(after->match("same.test", "/")->route.id, "same");
  EXPECT_EQ(after->match(kSystemHost, "/")->route.id, "system");
}

TEST(RouteTableTest, SnapshotEqualityComparesRoutesNotPointers) {
  ConfigSnapshot a;
  a.routes = {makeRoute("r", {"r.test"})};
  ConfigSnapshot b;
  b.routes = {makeRoute("r", {"r.test"})};
  EXPECT_EQ(a, b);
  b.routes = {makeRoute("r", {"r2.test"})};
  EXPECT_NE(a, b);
}

TEST(LastKnownGoodTest, EncodingIsTheSameDocumentAsOneJsonTree) {
  // encodeSnapshot() writes route by route; files written before that (one
  // nlohmann document, dump()ed) and after must be the same bytes.
  const ConfigSnapshot s = sampleSnapshot();
  nlohmann::ordered_json j;
  j["format"] = 1;
  j["revision"] = s.revision;
  j["providersRevision"] = s.providersRevision;
  j["routes"] = nlohmann::ordered_json::array();
  for (const auto& route : s.routes) j["routes"].push_back(model::toJson(route));
  j["providers"] = nlohmann::ordered_json::object();
  for (const auto& [id, json] : s.providersJson) j["providers"][id] = json;
  EXPECT_EQ(encodeSnapshot(s), j.dump());
  EXPECT_EQ(encodeSnapshot(ConfigSnapshot{}),
            R"({"format":1,"revision":0,"providersRevision":0,"routes":[],"providers":{}})");
}

std::shared_ptr<const RouteTable> tableAt(std::uint64_t revision) {
  ConfigSnapshot s;
  s.routes = {makeRoute("r" + std::to_string(revision), {"app.test"})};
  s.revision = revision;
  return RouteTable::build(std::move(s), kSystemHost).value();
}

/// A writer with its file and table holder; the first table (revision 1)
/// already applied and written.
class LastKnownGoodWriterTest : public ::testing::Test {
 protected:
  void startWith(std::chrono::milliseconds interval) {
    writer = std::make_unique<LastKnownGoodWriter>(file, SystemClock::instance(), interval);
    writer->start();
    applyTable(tableAt(1), holder, *writer);
    // The first table is written at once.
    ASSERT_TRUE(testing::waitUntil([&] { return writer->saves() == 1; }, std::chrono::seconds(10)));
  }
  testing::TempDir dir;
  LastKnownGood file{dir.path()};
  TableHolder holder;
  std::unique_ptr<LastKnownGoodWriter> writer;
};

TEST_F(LastKnownGoodWriterTest, CoalescesButAlwaysWritesTheLatestTable) {
  ASSERT_NO_FATAL_FAILURE(startWith(std::chrono::milliseconds(300)));
  LastKnownGoodWriter& writer = *this->writer;
  EXPECT_EQ(file.load().value().revision, 1u);
  // A burst within the interval: applied at once, written once, the last one.
  for (std::uint64_t rev = 2; rev <= 20; ++rev) applyTable(tableAt(rev), holder, writer);
  EXPECT_EQ(holder.revision(), 20u) << "publishing never waits for the disk";
  ASSERT_TRUE(testing::waitUntil([&] { return writer.saves() >= 2; }, std::chrono::seconds(10)));
  EXPECT_EQ(file.load().value().revision, 20u) << "the latest table";
  EXPECT_EQ(file.load().value().routes[0].id, "r20");
  // Nothing else is pending: no further file comes.
  EXPECT_FALSE(testing::waitUntil([&] { return writer.saves() > 2; }, std::chrono::milliseconds(600)))
      << "19 tables in 300 ms: one file";
  writer.stop();
  EXPECT_EQ(writer.saves(), 2u) << "nothing pending, nothing written";
}

TEST_F(LastKnownGoodWriterTest, StopWritesThePendingTable) {
  ASSERT_NO_FATAL_FAILURE(startWith(std::chrono::hours(1)));
  LastKnownGoodWriter& writer = *this->writer;
  applyTable(tableAt(2), holder, writer);
  applyTable(tableAt(3), holder, writer);
  EXPECT_EQ(file.load().value().revision, 1u) << "held back by the interval";
  writer.stop();
  EXPECT_EQ(writer.saves(), 2u);
  EXPECT_EQ(file.load().value().revision, 3u) << "stop() writes the latest table, skipping 2";
  writer.stop();  // idempotent
  EXPECT_EQ(writer.saves(), 2u);
}

}  // namespace
}  // namespace proxyos::edge
