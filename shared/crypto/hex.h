#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace proxyos::crypto {

/// Lower-case hex of `data`, two characters per byte.
std::string hexEncode(std::string_view data);

/// Decodes hex (either case). nullopt on an odd length or a non-hex character.
std::optional<std::string> hexDecode(std::string_view text);

}  // namespace proxyos::crypto
