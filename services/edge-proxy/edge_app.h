#pragma once
#include "shared/core/cli.h"

namespace proxyos::edge {

/// --help text and variables of proxyos-edge.
ProgramInfo edgeProgram();
/// Reads config from `env`, serves until SIGTERM/SIGINT/SIGHUP, then drains.
/// Throws ConfigError for bad configuration; returns the exit code otherwise.
int runEdge(const Env& env);

}  // namespace proxyos::edge
