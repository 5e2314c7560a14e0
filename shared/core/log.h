#pragma once
// Logging through spdlog. PROXYOS_LOG_FORMAT=json writes one JSON object per
// line: {"time","level","service","msg"}. Never pass secrets, tokens or cookie
// values to a log call.
#include <spdlog/spdlog.h>

#include <string>

namespace proxyos {

void initLogging(const std::string& service, const std::string& level, const std::string& format);

/// Escapes a string for inclusion inside a JSON string literal.
std::string jsonEscape(const std::string& s);

}  // namespace proxyos
