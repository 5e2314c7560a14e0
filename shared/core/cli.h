#pragma once
// The start-up shape every binary shares: --help lists the environment
// variables; a ConfigError becomes one line on stderr and exit code 2.
#include <functional>
#include <string>
#include <vector>

#include "shared/core/config.h"

namespace proxyos {

struct ProgramInfo {
  std::string binary;   // proxyos-route-registry
  std::string summary;  // one sentence
  std::vector<VarSpec> vars;
};

std::string helpText(const ProgramInfo& info);

/// Handles --help/-h and --version, then runs `body`. Returns the exit code.
int runMain(int argc, char** argv, const ProgramInfo& info, const std::function<int()>& body);

}  // namespace proxyos
