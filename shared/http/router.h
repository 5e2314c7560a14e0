#pragma once
#include <functional>
#include <string>
#include <vector>

#include "shared/http/message.h"

namespace proxyos::http {

using Handler = std::function<Response(const Request&)>;

/// Method + path-pattern dispatch. Patterns are literal segments and {name}
/// captures: "/api/routes/{id}". Literal segments win over captures, so
/// "/api/routes/export" is not taken for an id.
class Router {
 public:
  void add(const std::string& method, const std::string& pattern, Handler handler);

  struct Match {
    const Handler* handler = nullptr;   // null: no route
    bool methodNotAllowed = false;      // the path exists with other methods
    std::string allow;                  // for 405's Allow header
    std::string pattern;                // for metrics labels
  };
  /// Fills req.params on a match.
  Match match(Request& req) const;
  /// Runs the matching handler: 404/405 when none matches, its ErrorException
  /// as the error body, anything else as a 500 naming the request id. Sets
  /// `*pattern` to the matched pattern ("unmatched" when none) for metrics.
  Response dispatch(Request& req, std::string* pattern = nullptr) const;

 private:
  struct Entry {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    int literalCount = 0;
    Handler handler;
  };
  std::vector<Entry> entries_;
};

std::vector<std::string> splitPath(const std::string& path);

}  // namespace proxyos::http
