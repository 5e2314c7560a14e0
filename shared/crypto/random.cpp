#include "shared/crypto/random.h"

#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <stdexcept>

#include "shared/crypto/base64url.h"

namespace proxyos::crypto {

std::string randomBytes(size_t n) {
  std::string out(n, '\0');
  // RAND_bytes takes an int length, so very large requests go in chunks.
  size_t done = 0;
  while (done < n) {
    const size_t chunk = std::min<size_t>(n - done, INT_MAX);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data() + done), static_cast<int>(chunk)) != 1) {
      throw std::runtime_error("RAND_bytes failed");
    }
    done += chunk;
  }
  return out;
}

std::string randomToken(size_t bytes) { return base64UrlEncode(randomBytes(bytes)); }

}  // namespace proxyos::crypto
