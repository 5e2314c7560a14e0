#include "registry_app.h"

int main(int argc, char** argv) {
  return proxyos::runMain(argc, argv, proxyos::registry::routeRegistryProgram(),
                          [] { return proxyos::registry::runRouteRegistry(proxyos::ProcessEnv{}); });
}
