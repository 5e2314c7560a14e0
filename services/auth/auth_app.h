#pragma once
#include "shared/core/cli.h"

namespace proxyos::auth {

/// --help text and variables of proxyos-auth.
ProgramInfo authProgram();
/// Reads config from `env`, connects to NATS and Redis, creates the first admin
/// when there is no user, serves until SIGTERM/SIGINT.
int runAuth(const Env& env);

}  // namespace proxyos::auth
