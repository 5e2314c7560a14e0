#pragma once
#include <string>
#include <vector>

namespace proxyos::session {

/// First 8 hex characters of SHA-256(secret): names a secret without revealing it.
std::string keyId(const std::string& secret);

/// PROXYOS_SECRET signs; PROXYOS_SECRET_PREVIOUS still verify (rotation never
/// logs anyone out). Immutable after construction.
class SigningKeys {
 public:
  SigningKeys(std::string current, std::vector<std::string> previous);
  const std::string& currentKid() const { return keys_.front().kid; }
  const std::string& currentSecret() const { return keys_.front().secret; }
  /// The secret for a kid, or nullptr when no configured secret has that id.
  const std::string* secretFor(const std::string& kid) const;
  /// Every secret that verifies, current first.
  std::vector<const std::string*> secrets() const;

 private:
  struct Key {
    std::string kid;
    std::string secret;
  };
  std::vector<Key> keys_;  // [0] is current
};

}  // namespace proxyos::session
