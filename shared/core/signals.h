#pragma once
namespace proxyos {

/// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread. Call first in main,
/// before any thread starts, so every thread inherits the mask and the signals
/// are only ever taken by waitForTerminationSignal().
void blockTerminationSignals();
/// Waits for one of those signals and returns its number.
int waitForTerminationSignal();

}  // namespace proxyos
