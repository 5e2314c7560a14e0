#pragma once
// base64url (RFC 4648 §5) for tokens, cookies and password hashes: URL- and
// cookie-safe without escaping, so output is written unpadded.
#include <optional>
#include <string>
#include <string_view>

namespace proxyos::crypto {

/// base64url of `data` without '=' padding.
std::string base64UrlEncode(std::string_view data);

/// Decodes base64url with or without '=' padding. nullopt on any character
/// outside the URL alphabet (including '+', '/' and whitespace), on a length no
/// encoding can have, on misplaced padding, and on non-zero unused trailing bits
/// (so every byte string has exactly one accepted spelling).
std::optional<std::string> base64UrlDecode(std::string_view text);

}  // namespace proxyos::crypto
