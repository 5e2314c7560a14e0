#include "shared/crypto/sha256.h"

#include <openssl/evp.h>

#include <stdexcept>

#include "shared/crypto/hex.h"

namespace proxyos::crypto {

std::string sha256(std::string_view data) {
  std::string out(32, '\0');
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &len, EVP_sha256(),
                 nullptr) != 1 ||
      len != out.size()) {
    throw std::runtime_error("EVP_Digest(SHA-256) failed");
  }
  return out;
}

std::string sha256Hex(std::string_view data) { return hexEncode(sha256(data)); }

}  // namespace proxyos::crypto
