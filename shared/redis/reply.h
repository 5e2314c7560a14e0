#pragma once
#include <string>
#include <vector>

namespace proxyos::redis {

/// One RESP2 reply, owned (no hiredis types leak out of the client). `str`
/// holds String, Status and Error text; `integer` an Integer; `elements` an
/// Array. A nil bulk string and a nil array are both Nil.
struct Reply {
  enum class Type { Nil, String, Integer, Array, Status, Error };
  Type type = Type::Nil;
  std::string str;
  long long integer = 0;
  std::vector<Reply> elements;

  bool isNil() const { return type == Type::Nil; }
  bool isError() const { return type == Type::Error; }
};

}  // namespace proxyos::redis
