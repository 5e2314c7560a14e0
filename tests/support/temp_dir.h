#pragma once
#include <string>

namespace proxyos::testing {

/// A fresh directory under $TMPDIR (or /tmp), removed with everything in it
/// when the TempDir goes away. Move-only; a moved-from TempDir owns nothing.
class TempDir {
 public:
  TempDir();  // throws std::runtime_error when the directory cannot be made
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }

 private:
  void remove() noexcept;
  std::string path_;
};

}  // namespace proxyos::testing
