#pragma once
#include "shared/core/cli.h"

namespace proxyos::registry {

/// --help text and variables of proxyos-route-registry.
ProgramInfo routeRegistryProgram();
/// Reads config from `env`, connects to NATS, serves until SIGTERM/SIGINT.
/// Throws ConfigError for bad configuration; returns the exit code otherwise.
int runRouteRegistry(const Env& env);

}  // namespace proxyos::registry
