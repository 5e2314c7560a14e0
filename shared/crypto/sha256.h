#pragma once
#include <string>
#include <string_view>

namespace proxyos::crypto {

/// SHA-256 of `data`: 32 raw bytes.
std::string sha256(std::string_view data);

/// SHA-256 of `data` as 64 lower-case hex characters.
std::string sha256Hex(std::string_view data);

}  // namespace proxyos::crypto
