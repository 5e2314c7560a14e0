#pragma once
// Character checks every model's validation shares.
#include <cstddef>
#include <string_view>

namespace proxyos::model {

/// Characters as a human counts them. Input is valid UTF-8 (the JSON parser
/// checks), so code points are the bytes that are not continuation bytes.
std::size_t utf8Length(std::string_view s);
/// C0, DEL and the C1 range (U+0080-U+009F, encoded C2 80..C2 9F).
bool hasControlChar(std::string_view s);

}  // namespace proxyos::model
