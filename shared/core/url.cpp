#include "shared/core/url.h"

#include <algorithm>
#include <charconv>

namespace proxyos {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

Error bad(std::string msg) { return Error::make(ErrorKind::Invalid, "invalid_url", std::move(msg)); }

Result<uint16_t> parsePort(const std::string& s) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return bad("port \"" + s + "\" is not a number");
  if (v == 0 || v > 65535) return bad("port " + s + " is out of range 1-65535");
  return static_cast<uint16_t>(v);
}

bool validHostChars(const std::string& h) {
  return !h.empty() && std::all_of(h.begin(), h.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.' || c == '_';
  });
}

}  // namespace

uint16_t defaultPort(const std::string& scheme) {
  if (scheme == "http" || scheme == "ws") return 80;
  if (scheme == "https" || scheme == "wss") return 443;
  if (scheme == "redis") return 6379;
  if (scheme == "nats") return 4222;
  return 0;
}

std::string Url::authority() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (explicitPort && port != defaultPort(scheme)) h += ":" + std::to_string(port);
  return h;
}

std::string Url::origin() const { return scheme + "://" + authority(); }

Result<Url> parseUrl(const std::string& text) {
  Url u;
  for (unsigned char c : text)
    if (c <= 0x20 || c >= 0x7f) return bad("contains a space or control character");
  const auto schemeEnd = text.find("://");
  if (schemeEnd == std::string::npos || schemeEnd == 0) return bad("missing scheme (expected e.g. http://host:port)");
  u.scheme = lower(text.substr(0, schemeEnd));
  if (!std::all_of(u.scheme.begin(), u.scheme.end(), [](unsigned char c) { return std::isalnum(c) || c == '+' || c == '-' || c == '.'; }))
    return bad("invalid scheme");
  std::string rest = text.substr(schemeEnd + 3);
  if (auto f = rest.find('#'); f != std::string::npos) {
    u.fragment = rest.substr(f + 1);
    rest.resize(f);
  }
  if (auto q = rest.find('?'); q != std::string::npos) {
    u.query = rest.substr(q + 1);
    rest.resize(q);
  }
  std::string authority = rest;
  if (auto s = rest.find('/'); s != std::string::npos) {
    authority = rest.substr(0, s);
    u.path = rest.substr(s);
  }
  if (auto at = authority.rfind('@'); at != std::string::npos) {
    u.userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
  }
  std::string portText;
  if (!authority.empty() && authority[0] == '[') {
    const auto close = authority.find(']');
    if (close == std::string::npos) return bad("unterminated IPv6 address");
    u.host = lower(authority.substr(1, close - 1));
    const std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("unexpected characters after IPv6 address");
      portText = after.substr(1);
      u.explicitPort = true;
    }
    if (u.host.empty() || !std::all_of(u.host.begin(), u.host.end(), [](unsigned char c) { return std::isxdigit(c) || c == ':' || c == '.'; }))
      return bad("invalid IPv6 address");
  } else {
    const auto colon = authority.rfind(':');
    if (colon != std::string::npos) {
      portText = authority.substr(colon + 1);
      authority.resize(colon);
      u.explicitPort = true;
    }
    u.host = lower(authority);
    if (u.host.empty()) return bad("missing host");
    if (!validHostChars(u.host)) return bad("invalid host \"" + u.host + "\"");
  }
  if (u.explicitPort) {
    auto p = parsePort(portText);
    if (!p) return p.error();
    u.port = p.value();
  } else {
    u.port = defaultPort(u.scheme);
  }
  return u;
}

std::string HostPort::str() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<HostPort> parseHostPort(const std::string& text) {
  HostPort hp;
  std::string portText;
  if (!text.empty() && text[0] == '[') {
    const auto close = text.find("]:");
    if (close == std::string::npos) return bad("expected [ipv6]:port");
    hp.host = text.substr(1, close - 1);
    portText = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) return bad("expected host:port");
    hp.host = text.substr(0, colon);
    portText = text.substr(colon + 1);
    if (!hp.host.empty() && !validHostChars(hp.host)) return bad("invalid host \"" + hp.host + "\"");
  }
  if (hp.host.empty()) hp.host = "0.0.0.0";
  if (portText == "0") return hp;  // port 0: let the kernel choose (tests)
  auto p = parsePort(portText);
  if (!p) return p.error();
  hp.port = p.value();
  return hp;
}

Result<RedisEndpoint> parseRedisUrl(const std::string& text) {
  auto u = parseUrl(text);
  if (!u) return u.error();
  if (u.value().scheme != "redis") return bad("scheme must be redis:// (TLS is not supported by hiredis 0.14)");
  RedisEndpoint ep;
  ep.host = u.value().host;
  ep.port = u.value().port;
  const std::string& ui = u.value().userinfo;
  if (!ui.empty()) ep.password = ui[0] == ':' ? ui.substr(1) : ui.substr(ui.find(':') == std::string::npos ? ui.size() : ui.find(':') + 1);
  std::string db = u.value().path;
  if (!db.empty() && db != "/") {
    db = db.substr(1);
    int v = -1;
    auto [p, ec] = std::from_chars(db.data(), db.data() + db.size(), v);
    if (ec != std::errc() || p != db.data() + db.size() || v < 0 || v > 15) return bad("database must be a number 0-15");
    ep.db = v;
  }
  return ep;
}

std::string percentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0x0F];
    }
  }
  return out;
}

}  // namespace proxyos
