#pragma once
#include <array>
#include <optional>
#include <string>
#include <vector>

namespace proxyos {

/// An IPv4 or IPv6 network (PROXYOS_TRUSTED_PROXIES). A bare address is a /32 or /128.
class Cidr {
 public:
  static std::optional<Cidr> parse(const std::string& text);
  /// False for anything that is not an IP address of the same family.
  bool contains(const std::string& ip) const;

 private:
  bool v6_ = false;
  std::array<unsigned char, 16> net_{};
  int bits_ = 0;
};

/// True when `ip` is inside any of `cidrs`.
bool anyContains(const std::vector<Cidr>& cidrs, const std::string& ip);
std::vector<Cidr> parseCidrs(const std::vector<std::string>& texts);  // skips invalid (config validated them)

}  // namespace proxyos
