#include "shared/core/cidr.h"

#include <arpa/inet.h>

#include <charconv>

namespace proxyos {

namespace {
bool toBytes(const std::string& ip, bool& v6, std::array<unsigned char, 16>& out) {
  out.fill(0);
  std::string addr = ip;
  if (addr.rfind("::ffff:", 0) == 0 && addr.find('.') != std::string::npos) addr = addr.substr(7);  // v4-mapped
  if (inet_pton(AF_INET, addr.c_str(), out.data()) == 1) {
    v6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, addr.c_str(), out.data()) == 1) {
    v6 = true;
    return true;
  }
  return false;
}
}  // namespace

std::optional<Cidr> Cidr::parse(const std::string& text) {
  Cidr c;
  const auto slash = text.find('/');
  if (!toBytes(text.substr(0, slash), c.v6_, c.net_)) return std::nullopt;
  c.bits_ = c.v6_ ? 128 : 32;
  if (slash != std::string::npos) {
    const std::string b = text.substr(slash + 1);
    int bits = -1;
    auto [p, ec] = std::from_chars(b.data(), b.data() + b.size(), bits);
    if (ec != std::errc() || p != b.data() + b.size() || bits < 0 || bits > c.bits_) return std::nullopt;
    c.bits_ = bits;
  }
  return c;
}

bool Cidr::contains(const std::string& ip) const {
  bool v6 = false;
  std::array<unsigned char, 16> a{};
  if (!toBytes(ip, v6, a) || v6 != v6_) return false;
  for (int i = 0; i < bits_; ++i) {
    const unsigned char mask = static_cast<unsigned char>(0x80 >> (i % 8));
    if ((a[i / 8] & mask) != (net_[i / 8] & mask)) return false;
  }
  return true;
}

bool anyContains(const std::vector<Cidr>& cidrs, const std::string& ip) {
  for (const auto& c : cidrs)
    if (c.contains(ip)) return true;
  return false;
}

std::vector<Cidr> parseCidrs(const std::vector<std::string>& texts) {
  std::vector<Cidr> out;
  for (const auto& t : texts)
    if (auto c = Cidr::parse(t)) out.push_back(*c);
  return out;
}

}  // namespace proxyos
