#pragma once
// Randomness for secrets (session tokens, salts, one-time codes): always the
// OpenSSL CSPRNG, never <random>.
#include <cstddef>
#include <string>

namespace proxyos::crypto {

/// `n` bytes from RAND_bytes. Throws std::runtime_error if OpenSSL cannot
/// produce them: a secret must never fall back to weaker randomness.
std::string randomBytes(size_t n);

/// base64url (no padding) of randomBytes(bytes); 32 bytes give 43 characters.
std::string randomToken(size_t bytes = 32);

}  // namespace proxyos::crypto
