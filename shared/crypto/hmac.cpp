#include "shared/crypto/hmac.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <climits>
#include <stdexcept>

namespace proxyos::crypto {

std::string hmacSha256(std::string_view key, std::string_view data) {
  if (key.size() > static_cast<size_t>(INT_MAX)) throw std::invalid_argument("HMAC key too long");

  // An empty string_view may carry a null pointer, and OpenSSL's MAC init reads
  // a null key as "key set elsewhere", not as the empty key RFC 2104 allows.
  static const unsigned char kEmpty = 0;
  const void* keyPtr = key.empty() ? &kEmpty : static_cast<const void*>(key.data());
  const auto* dataPtr = data.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(data.data());

  std::string out(32, '\0');
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), keyPtr, static_cast<int>(key.size()), dataPtr, data.size(),
           reinterpret_cast<unsigned char*>(out.data()), &len) == nullptr ||
      len != out.size()) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return out;
}

}  // namespace proxyos::crypto
