#include "auth_app.h"

int main(int argc, char** argv) {
  return proxyos::runMain(argc, argv, proxyos::auth::authProgram(),
                          [] { return proxyos::auth::runAuth(proxyos::ProcessEnv{}); });
}
