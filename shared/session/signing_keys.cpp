#include "shared/session/signing_keys.h"

#include "shared/crypto/sha256.h"

namespace proxyos::session {

std::string keyId(const std::string& secret) { return crypto::sha256Hex(secret).substr(0, 8); }

SigningKeys::SigningKeys(std::string current, std::vector<std::string> previous) {
  keys_.push_back({keyId(current), std::move(current)});
  for (auto& p : previous) keys_.push_back({keyId(p), std::move(p)});
}

const std::string* SigningKeys::secretFor(const std::string& kid) const {
  for (const auto& k : keys_)
    if (k.kid == kid) return &k.secret;
  return nullptr;
}

std::vector<const std::string*> SigningKeys::secrets() const {
  std::vector<const std::string*> out;
  for (const auto& k : keys_) out.push_back(&k.secret);
  return out;
}

}  // namespace proxyos::session
