// Edge heartbeats without a network: the record's strict JSON, its key and
// node ids, and GET /api/routes/status through the registry's real router
// with a fake EdgeDirectory. The Redis side (publisher, SCAN/MGET) runs
// against a real redis-server in tests/integration/edge_heartbeat_test.cpp.
#include <gtest/gtest.h>

#include "route_handlers.h"
#include "route_service.h"
#include "shared/model/edge_heartbeat.h"
#include "shared/session/memory_session_store.h"
#include "shared/session/session_verifier.h"
#include "shared/session/signing_keys.h"
#include "shared/store/memory_kv_store.h"

namespace proxyos {
namespace {

using model::EdgeHeartbeat;

EdgeHeartbeat sample() {
  return {"edge-a", 42, "2026-01-01T00:00:00.000Z", "2026-01-01T00:05:00.250Z", 7};
}

// ---------------------------------------------------------------------------
// The record

TEST(EdgeHeartbeatModelTest, JsonRoundTripKeepsEveryFieldInAStableOrder) {
  const auto j = model::toJson(sample());
  EXPECT_EQ(j.dump(),
            R"({"node":"edge-a","revision":42,"startedAt":"2026-01-01T00:00:00.000Z",)"
            R"("lastSeen":"2026-01-01T00:05:00.250Z","routes":7})");
  auto back = model::parseEdgeHeartbeat(j.dump());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back.value(), sample());
}

TEST(EdgeHeartbeatModelTest, RevisionZeroMeansNoTableYetAndIsValid) {
  auto h = sample();
  h.revision = 0;
  h.routes = 0;
  auto back = model::parseEdgeHeartbeat(model::toJson(h).dump());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back.value(), h);
}

/// The first error's field and code, "" when the document parsed.
std::pair<std::string, std::string> firstError(const std::string& text) {
  auto r = model::parseEdgeHeartbeat(text);
  if (r.ok()) return {"", ""};
  return {r.error().field, r.error().code};
}

TEST(EdgeHeartbeatModelTest, StrictParseNamesTheField) {
  const std::string times = R"("startedAt":"2026-01-01T00:00:00.000Z","lastSeen":"2026-01-01T00:00:05.000Z")";
  const std::string valid = R"({"node":"n1","revision":3,)" + times + R"(,"routes":1})";
  ASSERT_EQ(firstError(valid), std::make_pair(std::string(), std::string()));

  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(firstError(R"({"node":"n1","revision":3,)" + times + R"(,"routes":1,"pid":9})"),
            P("pid", "unknown_field"));
  EXPECT_EQ(firstError(R"({"node":"n1","revision":"3",)" + times + R"(,"routes":1})"), P("revision", "invalid_type"));
  EXPECT_EQ(firstError(R"({"node":"n1","revision":-1,)" + times + R"(,"routes":1})"), P("revision", "invalid_type"));
  EXPECT_EQ(firstError(R"({"node":7,"revision":3,)" + times + R"(,"routes":1})"), P("node", "invalid_type"));
  EXPECT_EQ(firstError(R"({"node":"n1","revision":3,)" + times + R"(,"routes":true})"), P("routes", "invalid_type"));
  EXPECT_EQ(firstError(R"({"revision":3,)" + times + R"(,"routes":1})"), P("node", "required"));
  EXPECT_EQ(firstError(R"({"node":null,"revision":3,)" + times + R"(,"routes":1})"), P("node", "required"));
  EXPECT_EQ(firstError(R"({"node":"n1",)" + times + R"(,"routes":1})"), P("revision", "required"));
  EXPECT_EQ(firstError(R"({"node":"n1","revision":3,)" + times + "}"), P("routes", "required"));
  EXPECT_EQ(firstError(R"({"node":"n1","revision":3,"lastSeen":"2026-01-01T00:00:05.000Z","routes":1})"),
            P("startedAt", "required"));
  EXPECT_EQ(firstError(R"({"node":"n 1","revision":3,)" + times + R"(,"routes":1})"), P("node", "invalid_node_id"));
  EXPECT_EQ(firstError(R"({"node":"n1","revision":3,"startedAt":"yesterday",)"
                       R"("lastSeen":"2026-01-01T00:00:05.000Z","routes":1})"),
            P("startedAt", "invalid_time"));
  EXPECT_EQ(firstError(R"({"node":"n1","node":"n2","revision":3,)" + times + R"(,"routes":1})"),
            P("", "invalid_json"));
  EXPECT_EQ(firstError("[1]"), P("", "invalid_json"));
  EXPECT_EQ(firstError("{"), P("", "invalid_json"));
}

TEST(EdgeHeartbeatModelTest, EveryProblemIsReportedAtOnceWithItsPathInTheMessage) {
  auto r = model::parseEdgeHeartbeat(R"({"node":"","revision":"x","startedAt":1,"lastSeen":"2026-01-01T00:00:05Z"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Invalid);
  std::vector<std::string> fields;
  for (const auto& e : r.error().details) fields.push_back(e.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"node", "revision", "startedAt", "routes"}));
  EXPECT_EQ(r.error().message.rfind("node: ", 0), 0u) << r.error().message;
}

TEST(EdgeHeartbeatModelTest, KeyAndConstants) {
  EXPECT_EQ(model::edgeHeartbeatKey("edge-a"), "proxyos:edge:edge-a");
  EXPECT_EQ(model::kEdgeHeartbeatKeyPrefix, "proxyos:edge:");
  EXPECT_EQ(model::edgeHeartbeatKey("x").rfind(model::kEdgeHeartbeatKeyPrefix, 0), 0u);
  EXPECT_EQ(model::kEdgeHeartbeatTtl, std::chrono::seconds(15));
  EXPECT_EQ(model::kEdgeHeartbeatInterval, std::chrono::seconds(5));
  // Three beats fit in one TTL: one slow write does not drop a live node.
  EXPECT_GE(model::kEdgeHeartbeatTtl, 3 * model::kEdgeHeartbeatInterval);
}

TEST(EdgeHeartbeatModelTest, NodeIds) {
  for (const std::string& ok :
       std::vector<std::string>{"a", "edge-1", "Edge_2.eu-west", "web01.example.com", std::string(63, 'x')})
    EXPECT_TRUE(model::isValidNodeId(ok)) << ok;
  // Glob characters would change the registry's SCAN pattern; ':' would nest keys.
  for (const std::string& bad : std::vector<std::string>{"", std::string(64, 'x'), "a b", "a*", "a?", "a[1]", "a:b",
                                                         "a/b", "edge\n", "caf\xc3\xa9", std::string("a\0b", 3)})
    EXPECT_FALSE(model::isValidNodeId(bad)) << bad;
}

// ---------------------------------------------------------------------------
// GET /api/routes/status through the real router

class FakeEdgeDirectory final : public registry::EdgeDirectory {
 public:
  Result<std::vector<EdgeHeartbeat>> list() override {
    ++calls;
    if (down) return Error::make(ErrorKind::Unavailable, "redis_unavailable", "Redis is unavailable (test)");
    return edges;
  }
  std::vector<EdgeHeartbeat> edges;
  bool down = false;
  int calls = 0;
};

class NoProviders final : public registry::ProviderDirectory {
 public:
  Result<std::optional<registry::ProviderRef>> find(const std::string&) override {
    return std::optional<registry::ProviderRef>{};
  }
};

/// "viewer" and "user" bearer tokens; nothing else is known.
class FakeTokens final : public session::TokenVerifier {
 public:
  Result<std::optional<session::Principal>> verify(const std::string& token) override {
    auto role = token == "viewer" ? session::Role::Viewer : session::Role::User;
    if (token != "viewer" && token != "user") return std::optional<session::Principal>{};
    return std::optional<session::Principal>{
        session::Principal{"u1", token, role, session::Principal::Via::Token, "", "tok1"}};
  }
};

class RouteStatusHandlerTest : public ::testing::Test {
 protected:
  RouteStatusHandlerTest() {
    model::Route route;
    route.domains = {"a.example.com"};
    route.upstreams = {"http://127.0.0.1:3000"};
    EXPECT_TRUE(svc.create(route).ok());
    revision = svc.configRevision().value();
  }

  http::Response get(const std::string& token = "viewer") {
    http::Request req;
    req.method = "GET";
    req.path = "/api/routes/status";
    if (!token.empty()) req.headers["authorization"] = "Bearer " + token;
    return router.dispatch(req);
  }

  static EdgeHeartbeat edge(std::string node, std::uint64_t rev) {
    return {std::move(node), rev, "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:05.000Z", 3};
  }

  FakeClock clock;
  store::MemoryKvStore kv{clock};
  NoProviders providers;
  registry::RouteService svc{kv, providers, clock, {{"dash.example.com"}}};
  FakeEdgeDirectory edges;
  session::SigningKeys keys{"0123456789abcdef0123456789abcdef", {}};
  session::MemorySessionStore sessions{clock};
  session::SessionVerifier verifier{keys, sessions, clock};
  FakeTokens tokens;
  http::ApiGuard guard{verifier, tokens, "http://dash.example.com"};
  http::Router router = registry::makeRouteRouter(svc, edges, guard, clock);
  std::uint64_t revision = 0;
};

TEST_F(RouteStatusHandlerTest, ListsEdgesSortedWithInSyncBehindEqualAhead) {
  ASSERT_GT(revision, 1u);
  edges.edges = {edge("edge-c", revision + 1), edge("edge-a", revision - 1), edge("edge-b", revision),
                 edge("edge-0", 0)};
  auto r = get();
  ASSERT_EQ(r.status, 200) << r.body;
  const auto body = nlohmann::ordered_json::parse(r.body);  // keeps the field order for the exact check below
  EXPECT_EQ(body["revision"], revision);
  ASSERT_EQ(body["edges"].size(), 4u) << r.body;
  const std::vector<std::pair<std::string, bool>> expected = {
      {"edge-0", false}, {"edge-a", false}, {"edge-b", true}, {"edge-c", true}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(body["edges"][i]["node"], expected[i].first) << r.body;
    EXPECT_EQ(body["edges"][i]["inSync"], expected[i].second) << r.body;
  }
  EXPECT_EQ(body["edges"][1].dump(),
            R"({"node":"edge-a","revision":)" + std::to_string(revision - 1) +
                R"(,"inSync":false,"startedAt":"2026-01-01T00:00:00.000Z","lastSeen":"2026-01-01T00:00:05.000Z",)"
                R"("routes":3})");
}

TEST_F(RouteStatusHandlerTest, NoEdgesIsAnEmptyList) {
  auto r = get();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(nlohmann::json::parse(r.body)["edges"], nlohmann::json::array());
}

TEST_F(RouteStatusHandlerTest, DirectoryDownIs503RedisUnavailable) {
  edges.down = true;
  auto r = get();
  EXPECT_EQ(r.status, 503) << r.body;
  const auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["error"]["code"], "redis_unavailable");
  EXPECT_NE(body["error"]["message"].get<std::string>().find("Redis"), std::string::npos);
}

TEST_F(RouteStatusHandlerTest, GuardedAsAViewerRead) {
  EXPECT_EQ(get("").status, 401);
  EXPECT_EQ(get("nobody").status, 401);
  EXPECT_EQ(get("user").status, 403);
  EXPECT_EQ(edges.calls, 0) << "Redis is not read for a caller who may not see it";
  EXPECT_EQ(get("viewer").status, 200);
  EXPECT_EQ(edges.calls, 1);
}

}  // namespace
}  // namespace proxyos
