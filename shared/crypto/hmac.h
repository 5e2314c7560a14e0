#pragma once
#include <string>
#include <string_view>

namespace proxyos::crypto {

/// HMAC-SHA256 of `data` under `key`: 32 raw bytes. Keys of any length work
/// (longer than 64 bytes are hashed first, per RFC 2104).
std::string hmacSha256(std::string_view key, std::string_view data);

}  // namespace proxyos::crypto
