#include "shared/crypto/openssl_error.h"

#include <openssl/err.h>

namespace proxyos::crypto {

std::string openSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

}  // namespace proxyos::crypto
