// RouteService logic over MemoryKvStore and FakeClock: claims, compare-and-set,
// rollback, stale-claim takeover, import. The same logic runs against real NATS
// in tests/integration/route_registry_test.cpp.
#include <gtest/gtest.h>

#include "route_claims.h"
#include "route_service.h"
#include "shared/store/memory_kv_store.h"

namespace proxyos::registry {
namespace {

model::Route route(std::vector<std::string> domains, std::string path = "/") {
  model::Route r;
  r.name = domains.front();
  r.domains = std::move(domains);
  r.pathPrefix = std::move(path);
  r.upstreams = {"http://127.0.0.1:3000"};
  return r;
}

/// The providers sso-provider would report; `down` makes it unreachable.
class FakeProviderDirectory final : public ProviderDirectory {
 public:
  Result<std::optional<ProviderRef>> find(const std::string& id) override {
    if (down) return Error::make(ErrorKind::Unavailable, "dependency_unavailable", "sso-provider is unavailable");
    auto it = providers.find(id);
    if (it == providers.end()) return std::optional<ProviderRef>{};
    return std::optional<ProviderRef>{it->second};
  }
  std::map<std::string, ProviderRef> providers{
      {"prov1", {"prov1", "http://authelia:9091/api/authz/forward-auth", "https://auth.example.com/"}}};
  bool down = false;
};

class RouteServiceTest : public ::testing::Test {
 protected:
  FakeClock clock;
  store::MemoryKvStore kv{clock};
  FakeProviderDirectory providers;
  RouteService svc{kv, providers, clock, {{"dash.example.com"}}};
};

TEST_F(RouteServiceTest, CreateAssignsIdRevisionAndTimestamps) {
  auto r = svc.create(route({"a.example.com"}));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().id.size(), 26u);
  EXPECT_GT(r.value().revision, 0u);
  EXPECT_EQ(r.value().createdAt, "2026-01-01T00:00:00.000Z");
  auto got = svc.get(r.value().id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got.value(), r.value());
}

TEST_F(RouteServiceTest, SameDomainAndPathConflictsNamingTheHolder) {
  auto first = svc.create(route({"a.example.com"}));
  ASSERT_TRUE(first.ok());
  auto second = svc.create(route({"b.example.com", "a.example.com"}));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().kind, ErrorKind::Conflict);
  EXPECT_EQ(second.error().field, "domains[1]");
  EXPECT_NE(second.error().message.find(first.value().id), std::string::npos);
  // The claim on b.example.com taken before the conflict was rolled back.
  EXPECT_TRUE(svc.create(route({"b.example.com"})).ok());
}

TEST_F(RouteServiceTest, SameDomainOtherPathIsAllowed) {
  ASSERT_TRUE(svc.create(route({"a.example.com"}, "/")).ok());
  EXPECT_TRUE(svc.create(route({"a.example.com"}, "/api")).ok());
}

TEST_F(RouteServiceTest, FailedRouteWriteReleasesClaims) {
  ASSERT_TRUE(svc.create(route({"existing.example.com"})).ok());
  const auto before = kv.keys();
  // Two domains: two claim writes succeed, then the route write fails.
  kv.failWrites(1, 2);
  auto failed = svc.create(route({"a.example.com", "b.example.com"}));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().kind, ErrorKind::Unavailable);
  EXPECT_EQ(kv.keys(), before) << "both claims released";
  EXPECT_TRUE(svc.create(route({"a.example.com", "b.example.com"})).ok());
}

TEST_F(RouteServiceTest, StaleIfMatchIs412AndChangesNothing) {
  auto r = svc.create(route({"a.example.com"})).value();
  auto updated = svc.replace(r.id, route({"a.example.com", "b.example.com"}), r.revision);
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  auto stale = svc.replace(r.id, route({"c.example.com"}), r.revision);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().kind, ErrorKind::PreconditionFailed);
  EXPECT_EQ(svc.get(r.id).value().domains, (std::vector<std::string>{"a.example.com", "b.example.com"}));
  // c.example.com was never claimed.
  EXPECT_TRUE(svc.create(route({"c.example.com"})).ok());
}

TEST_F(RouteServiceTest, UpdateMovesClaims) {
  auto r = svc.create(route({"a.example.com"})).value();
  ASSERT_TRUE(svc.replace(r.id, route({"b.example.com"}), std::nullopt).ok());
  EXPECT_TRUE(svc.create(route({"a.example.com"})).ok()) << "old claim released";
  EXPECT_EQ(svc.create(route({"b.example.com"})).error().kind, ErrorKind::Conflict);
}

TEST_F(RouteServiceTest, UpdateKeepsCreatedAtAndBumpsUpdatedAt) {
  auto r = svc.create(route({"a.example.com"})).value();
  clock.advance(std::chrono::seconds(90));
  auto u = svc.patch(r.id, nlohmann::json{{"name", "Renamed"}}, std::nullopt).value();
  EXPECT_EQ(u.name, "Renamed");
  EXPECT_EQ(u.createdAt, r.createdAt);
  EXPECT_EQ(u.updatedAt, "2026-01-01T00:01:30.000Z");
  EXPECT_GT(u.revision, r.revision);
}

TEST_F(RouteServiceTest, PatchIsValidatedWithFieldPaths) {
  auto r = svc.create(route({"a.example.com"})).value();
  auto bad = svc.patch(r.id, nlohmann::json{{"domains", {"a.*.com"}}}, std::nullopt);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().field, "domains[0]");
  auto reserved = svc.patch(r.id, nlohmann::json{{"domains", {"dash.example.com"}}}, std::nullopt);
  ASSERT_FALSE(reserved.ok());
  EXPECT_EQ(reserved.error().code, "reserved_domain");
}

TEST_F(RouteServiceTest, PutWithOtherIdInBodyIsRefused) {
  auto r = svc.create(route({"a.example.com"})).value();
  auto draft = route({"a.example.com"});
  draft.id = "someotherid";
  auto res = svc.replace(r.id, draft, std::nullopt);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().field, "id");
}

TEST_F(RouteServiceTest, DeleteReleasesClaimsAndHonoursIfMatch) {
  auto r = svc.create(route({"a.example.com"})).value();
  EXPECT_EQ(svc.remove(r.id, r.revision + 100).error().kind, ErrorKind::PreconditionFailed);
  ASSERT_TRUE(svc.remove(r.id, r.revision).ok());
  EXPECT_EQ(svc.get(r.id).error().kind, ErrorKind::NotFound);
  EXPECT_EQ(svc.remove(r.id, std::nullopt).error().kind, ErrorKind::NotFound);
  EXPECT_TRUE(svc.create(route({"a.example.com"})).ok());
  EXPECT_EQ(kv.keys().size(), 2u) << "one route and its one claim";
}

TEST_F(RouteServiceTest, OrphanClaimIsTakenOverOnlyWhenStale) {
  // A writer that died between claim and route write leaves an orphan claim.
  Claim c{"a.example.com", "/", 0};
  ASSERT_TRUE(kv.create(c.key(), "01deadwriter0000000000000").ok());
  auto young = svc.create(route({"a.example.com"}));
  ASSERT_FALSE(young.ok());
  EXPECT_EQ(young.error().kind, ErrorKind::Conflict);
  clock.advance(kStaleClaimAge + std::chrono::seconds(1));
  EXPECT_TRUE(svc.create(route({"a.example.com"})).ok());
}

TEST_F(RouteServiceTest, ListFiltersByDomainAndProvider) {
  auto a = route({"a.example.com"});
  a.ssoEnabled = true;
  a.ssoProviderId = "prov1";
  ASSERT_TRUE(svc.create(a).ok());
  ASSERT_TRUE(svc.create(route({"b.example.com"})).ok());
  EXPECT_EQ(svc.list({}).value().size(), 2u);
  EXPECT_EQ(svc.list({"A.EXAMPLE.COM", ""}).value().size(), 1u);
  EXPECT_EQ(svc.list({"", "prov1"}).value().size(), 1u);
  EXPECT_EQ(svc.list({"c.example.com", ""}).value().size(), 0u);
}

TEST_F(RouteServiceTest, ImportValidatesEverythingBeforeWritingAnything) {
  ASSERT_TRUE(svc.create(route({"taken.example.com"})).ok());
  const auto before = kv.keys();
  auto doc = nlohmann::json::parse(R"({"routes":[
      {"domains":["ok.example.com"],"upstreams":["http://x:1"]},
      {"domains":["bad..example.com"],"upstreams":["http://x:1"]}]})");
  auto res = svc.importRoutes(doc);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().field, "routes[1].domains[0]");
  EXPECT_EQ(kv.keys(), before);

  auto conflict = nlohmann::json::parse(R"({"routes":[
      {"domains":["new.example.com"],"upstreams":["http://x:1"]},
      {"domains":["taken.example.com"],"upstreams":["http://x:1"]}]})");
  auto c = svc.importRoutes(conflict);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, "domain_conflict");
  EXPECT_EQ(c.error().field, "routes[1].domains[0]");
  EXPECT_EQ(kv.keys(), before);

  auto dup = nlohmann::json::parse(R"({"routes":[
      {"domains":["d.example.com"],"upstreams":["http://x:1"]},
      {"domains":["d.example.com"],"upstreams":["http://x:2"]}]})");
  auto d = svc.importRoutes(dup);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, "duplicate");
  EXPECT_EQ(kv.keys(), before);
}

TEST_F(RouteServiceTest, ExportThenImportRestoresIdsAndUpdatesExisting) {
  auto a = svc.create(route({"a.example.com"})).value();
  clock.advance(std::chrono::milliseconds(1));  // ids sort by creation time
  auto b = svc.create(route({"b.example.com"})).value();
  nlohmann::json doc{{"version", 1}, {"routes", nlohmann::json::array()}};
  const auto all = svc.list({}).value();
  for (const auto& r : all) doc["routes"].push_back(nlohmann::json::parse(model::toJson(r).dump()));
  ASSERT_TRUE(svc.remove(b.id, std::nullopt).ok());
  auto res = svc.importRoutes(doc);
  ASSERT_TRUE(res.ok()) << res.error().message;
  ASSERT_EQ(res.value().size(), 2u);
  EXPECT_EQ(res.value()[0].status, "updated");
  EXPECT_EQ(res.value()[0].id, a.id);
  EXPECT_EQ(res.value()[1].status, "created");
  EXPECT_EQ(res.value()[1].id, b.id);
  EXPECT_EQ(svc.get(b.id).value().domains, b.domains);
}

TEST_F(RouteServiceTest, SsoProviderMustExist) {
  auto r = route({"a.example.com"});
  r.ssoEnabled = true;
  r.ssoProviderId = "nope";
  auto res = svc.create(r);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, "unknown_provider");
  EXPECT_EQ(res.error().field, "ssoProviderId");
  r.ssoProviderId = "prov1";
  EXPECT_TRUE(svc.create(r).ok());
}

TEST_F(RouteServiceTest, SsoOnTheProvidersOwnHostIsARedirectLoop) {
  auto r = route({"grafana.example.com", "*.example.com"});
  r.ssoEnabled = true;
  r.ssoProviderId = "prov1";
  auto res = svc.create(r);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, "sso_redirect_loop");
  EXPECT_EQ(res.error().field, "domains[1]");
  EXPECT_NE(res.error().message.find("auth.example.com"), std::string::npos) << res.error().message;
  // Without SSO the same domains are fine, and turning SSO on later is refused.
  r.ssoEnabled = false;
  auto plain = svc.create(r);
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  auto on = svc.patch(plain.value().id, nlohmann::json{{"ssoEnabled", true}}, std::nullopt);
  ASSERT_FALSE(on.ok());
  EXPECT_EQ(on.error().code, "sso_redirect_loop");
}

TEST_F(RouteServiceTest, SsoProviderServiceDownMeansNothingIsWritten) {
  providers.down = true;
  auto r = route({"a.example.com"});
  r.ssoEnabled = true;
  r.ssoProviderId = "prov1";
  const auto before = kv.keys();
  auto res = svc.create(r);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::Unavailable);
  EXPECT_EQ(kv.keys(), before);
  EXPECT_TRUE(svc.create(route({"b.example.com"})).ok()) << "routes without SSO need no provider lookup";
}

TEST_F(RouteServiceTest, ConfigRevisionFollowsWrites) {
  const uint64_t r0 = svc.configRevision().value();
  ASSERT_TRUE(svc.create(route({"a.example.com"})).ok());
  EXPECT_GT(svc.configRevision().value(), r0);
}

}  // namespace
}  // namespace proxyos::registry
