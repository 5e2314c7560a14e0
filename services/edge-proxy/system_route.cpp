#include "system_route.h"

#include "error_pages.h"

namespace proxyos::edge {

SystemAnswer SystemAnswer::respond(int status, std::string contentType, std::shared_ptr<const std::string> body) {
  SystemAnswer a;
  a.kind = Kind::Respond;
  a.status = status;
  a.contentType = std::move(contentType);
  a.body = std::move(body);
  return a;
}

SystemAnswer SystemAnswer::proxy(UpstreamEndpoint upstream) {
  SystemAnswer a;
  a.kind = Kind::Proxy;
  a.upstream = std::move(upstream);
  return a;
}

SystemAnswer NotFoundSystemRoute::handle(const SystemRequest&) {
  static const auto page = std::make_shared<const std::string>(errorPage(404));
  return SystemAnswer::respond(404, "text/html; charset=utf-8", page);
}

}  // namespace proxyos::edge
