#pragma once
#include <string>

namespace proxyos::testing {

/// The whole file as bytes. Throws std::runtime_error when it cannot be read.
std::string readFile(const std::string& path);

}  // namespace proxyos::testing
