#include "edge_app.h"

int main(int argc, char** argv) {
  return proxyos::runMain(argc, argv, proxyos::edge::edgeProgram(),
                          [] { return proxyos::edge::runEdge(proxyos::ProcessEnv{}); });
}
