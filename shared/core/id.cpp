#include "shared/core/id.h"

#include <cctype>

#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace proxyos {

namespace {
constexpr char kAlphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
}

std::string newId(const Clock& clock) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock.now().time_since_epoch()).count();
  std::array<unsigned char, 16> bytes{};
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<unsigned char>((static_cast<uint64_t>(ms) >> (8 * (5 - i))) & 0xff);
  if (RAND_bytes(bytes.data() + 6, 10) != 1) throw std::runtime_error("RAND_bytes failed");
  // 128 bits -> 26 base32 digits (130 bits, top 2 bits zero).
  std::string out(26, '0');
  unsigned __int128 v = 0;
  for (unsigned char b : bytes) v = (v << 8) | b;
  for (int i = 25; i >= 0; --i) {
    out[i] = kAlphabet[static_cast<int>(v & 31)];
    v >>= 5;
  }
  return out;
}

bool isValidId(const std::string& s) {
  if (s.size() < 1 || s.size() > 64) return false;
  for (char c : s) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool isValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (const char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != ':' && c != '-') return false;
  return true;
}

}  // namespace proxyos
