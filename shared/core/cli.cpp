#include "shared/core/cli.h"

#include <algorithm>
#include <iostream>
#include <sstream>

namespace proxyos {

std::string helpText(const ProgramInfo& info) {
  std::ostringstream out;
  out << "Usage: " << info.binary << " [--help] [--version]\n\n" << info.summary << "\n\n";
  out << "Configuration is read from the environment:\n";
  size_t width = 0;
  for (const auto& v : info.vars) width = std::max(width, v.name.size());
  for (const auto& v : info.vars) {
    out << "  " << v.name;
    for (size_t i = v.name.size(); i < width + 2; ++i) out << ' ';
    out << v.help;
    if (!v.defaultValue.empty()) out << " (default: " << v.defaultValue << ")";
    out << "\n";
  }
  return out.str();
}

int runMain(int argc, char** argv, const ProgramInfo& info, const std::function<int()>& body) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << helpText(info);
      return 0;
    }
    if (arg == "--version") {
      std::cout << info.binary << " 0.1.0\n";
      return 0;
    }
    std::cerr << info.binary << ": unknown argument \"" << arg << "\" (try --help)\n";
    return 2;
  }
  try {
    return body();
  } catch (const ConfigError& e) {
    std::cerr << info.binary << ": configuration error: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace proxyos
