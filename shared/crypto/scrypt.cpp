#include "shared/crypto/scrypt.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <charconv>
#include <climits>
#include <limits>
#include <optional>
#include <stdexcept>
#include <vector>

#include "shared/crypto/base64url.h"
#include "shared/crypto/constant_time.h"
#include "shared/crypto/openssl_error.h"
#include "shared/crypto/random.h"

namespace proxyos::crypto {

namespace {

constexpr std::string_view kPrefix = "scrypt";
constexpr size_t kSaltLen = 16;
constexpr size_t kKeyLen = 32;

// Bounds for parameters read from a stored hash (see verifyPassword).
constexpr uint64_t kMaxVerifyN = uint64_t{1} << 20;
constexpr uint64_t kMaxVerifyRp = 64;
constexpr uint64_t kMaxVerifyMemory = uint64_t{1} << 30;

// RFC 7914 §2 limits, checked here so that they are reported as invalid input
// rather than as an OpenSSL failure: N a power of two with 1 < N < 2^(16r).
// OpenSSL bounds r*p tighter than the RFC's 2^30: the 128*r*p bytes of B must
// fit in an int.
bool validParams(const ScryptParams& params) {
  const uint64_t n = params.N;
  if (n <= 1 || (n & (n - 1)) != 0 || params.r == 0 || params.p == 0) return false;
  if (params.r < 4 && n >> (16 * params.r) != 0) return false;
  return params.p <= (uint64_t{INT_MAX} / 128) / params.r;
}

// The bytes EVP_PBE_scrypt allocates: 128*r*p for B plus 128*r*(N+2) for V and
// XY. nullopt if that does not fit in 64 bits.
std::optional<uint64_t> scryptMemory(const ScryptParams& params) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  if (params.r > kMax / 128) return std::nullopt;
  const uint64_t blockBytes = 128 * params.r;
  if (params.p > kMax / blockBytes || params.N > kMax - 2 || params.N + 2 > kMax / blockBytes) return std::nullopt;
  const uint64_t b = blockBytes * params.p;
  const uint64_t v = blockBytes * (params.N + 2);
  if (b > kMax - v) return std::nullopt;
  return b + v;
}


std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  for (;;) {
    const size_t pos = s.find(sep);
    parts.push_back(s.substr(0, pos));
    if (pos == std::string_view::npos) return parts;
    s.remove_prefix(pos + 1);
  }
}

// Digits only: no sign, no spaces, no overflow.
std::optional<uint64_t> parseUint(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

Result<std::string> scrypt(std::string_view password, std::string_view salt, const ScryptParams& params,
                           size_t keyLen) {
  if (!validParams(params) || keyLen == 0) {
    return Error::make(ErrorKind::Invalid, "invalid_scrypt_params",
                       "scrypt needs N a power of two with 1 < N < 2^(16r), r >= 1, p >= 1, r*p < 2^24 "
                       "and a key length >= 1");
  }
  const auto memory = scryptMemory(params);
  if (!memory) return Error::make(ErrorKind::Invalid, "invalid_scrypt_params", "scrypt parameters overflow memory");

  std::string key(keyLen, '\0');
  // OpenSSL's default maxmem (32 MiB) would reject e.g. N=2^20; allow exactly
  // what these parameters need (OpenSSL computes the same sum).
  if (EVP_PBE_scrypt(password.data(), password.size(), reinterpret_cast<const unsigned char*>(salt.data()),
                     salt.size(), params.N, params.r, params.p, *memory,
                     reinterpret_cast<unsigned char*>(key.data()), key.size()) != 1) {
    return Error::make(ErrorKind::Internal, "scrypt_failed", "scrypt failed: " + openSslError());
  }
  return key;
}

std::string hashPassword(std::string_view password, const ScryptParams& params) {
  const std::string salt = randomBytes(kSaltLen);
  auto key = scrypt(password, salt, params, kKeyLen);
  if (!key.ok()) {
    if (key.error().kind == ErrorKind::Invalid) throw std::invalid_argument(key.error().message);
    throw std::runtime_error(key.error().message);
  }
  std::string out(kPrefix);
  for (uint64_t v : {params.N, params.r, params.p}) {
    out += '$';
    out += std::to_string(v);
  }
  out += '$';
  out += base64UrlEncode(salt);
  out += '$';
  out += base64UrlEncode(key.value());
  return out;
}

bool verifyPassword(std::string_view password, std::string_view encoded) {
  const auto parts = split(encoded, '$');
  if (parts.size() != 6 || parts[0] != kPrefix) return false;
  const auto n = parseUint(parts[1]);
  const auto r = parseUint(parts[2]);
  const auto p = parseUint(parts[3]);
  if (!n || !r || !p) return false;
  const ScryptParams params{*n, *r, *p};
  // Bounds first, so that the products below cannot overflow.
  if (params.N > kMaxVerifyN || params.r > kMaxVerifyRp || params.p > kMaxVerifyRp) return false;
  if (params.r * params.p > kMaxVerifyRp || !validParams(params)) return false;
  // scrypt's V array is 128*r*N bytes: N=2^20 with r=8 (1 GiB) is the most accepted.
  if (128 * params.r * params.N > kMaxVerifyMemory) return false;

  const auto salt = base64UrlDecode(parts[4]);
  const auto expected = base64UrlDecode(parts[5]);
  if (!salt || salt->empty() || !expected || expected->size() != kKeyLen) return false;

  const auto actual = scrypt(password, *salt, params, expected->size());
  return actual.ok() && constantTimeEquals(actual.value(), *expected);
}

}  // namespace proxyos::crypto
