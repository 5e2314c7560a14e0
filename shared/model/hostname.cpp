#include "shared/model/hostname.h"

#include <cstdio>
#include <vector>

namespace proxyos::model {

namespace {

constexpr std::size_t kMaxHostnameLength = 253;
constexpr std::size_t kMaxLabelLength = 63;

HostnameProblem hostnameProblem(std::string message) { return {"invalid_hostname", std::move(message)}; }
HostnameProblem wildcardProblem(std::string message) { return {"invalid_wildcard", std::move(message)}; }

std::vector<std::string_view> splitLabels(std::string_view host) {
  std::vector<std::string_view> labels;
  std::size_t start = 0;
  while (true) {
    const auto dot = host.find('.', start);
    labels.push_back(host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return labels;
}

// Printable for messages: control bytes would otherwise vanish or garble logs.
std::string describeChar(unsigned char c) {
  if (c > 0x20 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "'";
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", c);
  return buf;
}

std::optional<HostnameProblem> checkLabel(std::string_view label) {
  if (label.empty()) return hostnameProblem("has an empty label (two dots in a row or a leading dot)");
  if (label.size() > kMaxLabelLength)
    return hostnameProblem("label \"" + std::string(label.substr(0, 16)) + "...\" is longer than 63 characters");
  for (unsigned char c : label) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') continue;
    if (c >= 'A' && c <= 'Z') return hostnameProblem("must be lower-case");
    if (c >= 0x80) return hostnameProblem("contains non-ASCII characters; use the punycode form (xn--...)");
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') return hostnameProblem("contains whitespace");
    if (c == '_') return hostnameProblem("contains '_', which RFC 1123 host names do not allow");
    return hostnameProblem("contains invalid character " + describeChar(c));
  }
  if (label.front() == '-' || label.back() == '-')
    return hostnameProblem("label \"" + std::string(label) + "\" must not start or end with '-'");
  return std::nullopt;
}

}  // namespace

bool isWildcardHostname(std::string_view host) { return host.size() >= 2 && host[0] == '*' && host[1] == '.'; }

std::optional<HostnameProblem> checkHostname(std::string_view host, bool allowWildcard) {
  if (host.empty()) return hostnameProblem("must not be empty");
  if (host.find("://") != std::string_view::npos) return hostnameProblem("must be a host name, not a URL");
  if (host.find(':') != std::string_view::npos) return hostnameProblem("must not contain a port");
  if (host.find('/') != std::string_view::npos) return hostnameProblem("must not contain a path");
  if (host.size() > kMaxHostnameLength) return hostnameProblem("is longer than 253 characters");
  if (host.back() == '.') return hostnameProblem("must not end with a dot");

  std::vector<std::string_view> labels = splitLabels(host);
  if (host.find('*') != std::string_view::npos) {
    if (!allowWildcard) return wildcardProblem("wildcards are not allowed here");
    for (std::size_t i = 1; i < labels.size(); ++i)
      if (labels[i].find('*') != std::string_view::npos)
        return wildcardProblem("wildcard only allowed as the leftmost label");
    if (labels[0] != "*") return wildcardProblem("a wildcard must be a whole label, as in *.example.com");
    // "*.com" would claim every name under a public suffix.
    if (labels.size() < 3) return wildcardProblem("a wildcard must be followed by at least two labels, as in *.example.com");
    labels.erase(labels.begin());
  }
  for (std::string_view label : labels)
    if (auto problem = checkLabel(label)) return problem;
  return std::nullopt;
}

std::optional<std::string> hostnameError(const std::string& host, bool allowWildcard) {
  if (auto problem = checkHostname(host, allowWildcard)) return std::move(problem->message);
  return std::nullopt;
}

std::string toLowerAscii(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

}  // namespace proxyos::model
