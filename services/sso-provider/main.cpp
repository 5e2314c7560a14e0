#include "sso_app.h"

int main(int argc, char** argv) {
  return proxyos::runMain(argc, argv, proxyos::sso::ssoProviderProgram(),
                          [] { return proxyos::sso::runSsoProvider(proxyos::ProcessEnv{}); });
}
