// The REST skeleton without a network: dispatch, built-ins, error bodies.
#include <gtest/gtest.h>

#include "shared/http/rest_service.h"

namespace proxyos::http {
namespace {

http::Request request(std::string method, std::string path) {
  Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.requestId = "rid";
  return r;
}

class RestServiceTest : public ::testing::Test {
 protected:
  RestServiceTest() {
    Router router;
    router.add("GET", "/api/things", [](const Request&) { return Response::json(200, {{"things", 0}}); });
    router.add("GET", "/api/things/export", [](const Request&) { return Response::json(200, {{"export", true}}); });
    router.add("GET", "/api/things/{id}", [](const Request& r) { return Response::json(200, {{"id", r.param("id")}}); });
    router.add("DELETE", "/api/things/{id}", [](const Request&) { return Response::noContent(); });
    router.add("POST", "/api/things", [](const Request&) -> Response {
      throw ErrorException(Error::invalid("domains[1]", "domains[1]: wildcard only allowed as the leftmost label",
                                          "invalid_wildcard"));
    });
    router.add("PUT", "/api/things/{id}", [](const Request&) -> Response { throw std::runtime_error("boom"); });
    service = std::make_unique<RestService>(ServiceOptions{"test", {"127.0.0.1", 0}}, std::move(router),
                                            [this] { return ready; }, metrics, clock);
  }
  FakeClock clock;
  bool ready = false;
  std::shared_ptr<Metrics> metrics = std::make_shared<Metrics>("test");
  std::unique_ptr<RestService> service;
};

TEST_F(RestServiceTest, CapturesAndLiteralsWin) {
  EXPECT_EQ(service->handle(request("GET", "/api/things/abc")).body, R"({"id":"abc"})");
  EXPECT_EQ(service->handle(request("GET", "/api/things/export")).body, R"({"export":true})");
  EXPECT_EQ(service->handle(request("DELETE", "/api/things/abc")).status, 204);
}

TEST_F(RestServiceTest, UnknownPathIs404AndWrongMethodHasAllow) {
  auto notFound = service->handle(request("GET", "/nope"));
  EXPECT_EQ(notFound.status, 404);
  EXPECT_EQ(nlohmann::json::parse(notFound.body)["error"]["code"], "not_found");
  auto wrong = service->handle(request("PATCH", "/api/things"));
  EXPECT_EQ(wrong.status, 400);
  ASSERT_EQ(wrong.headers.size(), 1u);
  EXPECT_EQ(wrong.headers[0].first, "Allow");
  EXPECT_EQ(wrong.headers[0].second, "GET, POST");
}

TEST_F(RestServiceTest, TypedErrorBecomesContractBody) {
  auto resp = service->handle(request("POST", "/api/things"));
  EXPECT_EQ(resp.status, 422);
  EXPECT_EQ(resp.body,
            R"({"error":{"code":"invalid_wildcard","message":"domains[1]: wildcard only allowed as the leftmost label","field":"domains[1]"}})");
}

TEST_F(RestServiceTest, UnexpectedExceptionIs500WithoutDetails) {
  auto resp = service->handle(request("PUT", "/api/things/x"));
  EXPECT_EQ(resp.status, 500);
  EXPECT_EQ(resp.body.find("boom"), std::string::npos);
  EXPECT_NE(resp.body.find("rid"), std::string::npos);
}

TEST_F(RestServiceTest, HealthReadyMetrics) {
  EXPECT_EQ(service->handle(request("GET", "/healthz")).status, 200);
  EXPECT_EQ(service->handle(request("GET", "/readyz")).status, 503);
  ready = true;
  EXPECT_EQ(service->handle(request("GET", "/readyz")).status, 200);
  metrics->observeRequest("GET", "/api/things/{id}", 200, 0.002);
  metrics->counter("proxyos_test_total", "a test counter").inc(3);
  auto m = service->handle(request("GET", "/metrics"));
  EXPECT_EQ(m.contentType, "text/plain; version=0.0.4");
  EXPECT_NE(m.body.find(R"(proxyos_http_requests_total{service="test",method="GET",route="/api/things/{id}",status="200"} 1)"),
            std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find(R"(proxyos_test_total{service="test"} 3)"), std::string::npos);
  EXPECT_NE(m.body.find(R"(le="0.005"} 1)"), std::string::npos);
}

TEST_F(RestServiceTest, HeadDropsTheBody) {
  auto resp = service->handle(request("HEAD", "/api/things"));
  EXPECT_EQ(resp.status, 200);
  EXPECT_TRUE(resp.body.empty());
}

TEST(Message, IfMatchParsing) {
  Request r;
  EXPECT_FALSE(ifMatchRevision(r).has_value());
  r.headers["if-match"] = "\"17\"";
  EXPECT_EQ(ifMatchRevision(r).value(), 17u);
  r.headers["if-match"] = "W/\"18\"";
  EXPECT_EQ(ifMatchRevision(r).value(), 18u);
  r.headers["if-match"] = "*";
  EXPECT_FALSE(ifMatchRevision(r).has_value());
  r.headers["if-match"] = "\"abc\"";
  EXPECT_THROW(ifMatchRevision(r), ErrorException);
  EXPECT_EQ(etag(5), "\"5\"");
}

}  // namespace
}  // namespace proxyos::http
