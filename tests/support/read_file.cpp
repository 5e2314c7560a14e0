#include "tests/support/read_file.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace proxyos::testing {

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace proxyos::testing
