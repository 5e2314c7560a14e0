#pragma once
#include "shared/core/cli.h"

namespace proxyos::sso {

/// --help text and variables of proxyos-sso-provider.
ProgramInfo ssoProviderProgram();
/// Reads config from `env`, connects to NATS, serves until SIGTERM/SIGINT.
/// Throws ConfigError for bad configuration; returns the exit code otherwise.
int runSsoProvider(const Env& env);

}  // namespace proxyos::sso
