#pragma once
// scrypt (RFC 7914) key derivation and the password-hash format built on it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "shared/core/error.h"

namespace proxyos::crypto {

/// scrypt cost: N (CPU/memory, a power of two > 1), r (block size), p
/// (parallelism). The default needs 32 MiB and ~0.1 s per password.
struct ScryptParams {
  uint64_t N = 32768;
  uint64_t r = 8;
  uint64_t p = 1;
};

/// Derives `keyLen` bytes with EVP_PBE_scrypt. Error (kind Invalid,
/// code "invalid_scrypt_params") for parameters scrypt does not define, and
/// (kind Internal, code "scrypt_failed") when OpenSSL fails, e.g. out of memory.
/// The memory cap is raised to what the parameters need, so callers must bound
/// the parameters themselves when they come from outside.
Result<std::string> scrypt(std::string_view password, std::string_view salt, const ScryptParams& params,
                           size_t keyLen);

/// A fresh salted hash: "scrypt$<N>$<r>$<p>$<b64url salt16>$<b64url key32>".
/// Throws std::invalid_argument for invalid params (a programming error) and
/// std::runtime_error if OpenSSL fails.
std::string hashPassword(std::string_view password, const ScryptParams& params = {});

/// True when `password` matches a hashPassword() string. False, never an
/// exception, for anything malformed, including parameters too costly to try
/// (N > 2^20, r*p > 64, or more than 1 GiB of memory), since a stored hash
/// must not become a way to exhaust the server.
bool verifyPassword(std::string_view password, std::string_view encoded);

}  // namespace proxyos::crypto
