#include "dashboard_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "shared/crypto/hex.h"
#include "shared/crypto/sha256.h"

namespace proxyos::edge {

namespace fs = std::filesystem;

namespace {

Error invalid(const std::string& message) {
  return Error::make(ErrorKind::Invalid, "invalid_dashboard_dir", "PROXYOS_DASHBOARD_DIR: " + message);
}

StaticFile makeFile(std::string body, std::string_view path) {
  StaticFile f;
  f.etag = "\"" + crypto::hexEncode(crypto::sha256(body)).substr(0, 20) + "\"";
  f.contentType = contentTypeFor(path);
  f.body = std::make_shared<const std::string>(std::move(body));
  return f;
}

bool hasExtension(std::string_view path) {
  const auto slash = path.rfind('/');
  return path.substr(slash == std::string_view::npos ? 0 : slash).find('.') != std::string_view::npos;
}

constexpr const char* kPlaceholder =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>ProxyOS</title></head><body>"
    "<h1>ProxyOS</h1><p>The edge is running, but no dashboard is installed: set PROXYOS_DASHBOARD_DIR to the "
    "dashboard's build directory. The REST APIs answer under /api/.</p></body></html>\n";

}  // namespace

std::string contentTypeFor(std::string_view path) {
  static const std::map<std::string, std::string, std::less<>> kTypes{
      {".html", "text/html; charset=utf-8"},     {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},              {".map", "application/json"},
      {".svg", "image/svg+xml"},                  {".png", "image/png"},
      {".jpg", "image/jpeg"},                     {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},                      {".webp", "image/webp"},
      {".ico", "image/x-icon"},                   {".woff", "font/woff"},
      {".woff2", "font/woff2"},                   {".txt", "text/plain; charset=utf-8"},
      {".webmanifest", "application/manifest+json"}};
  const auto dot = path.rfind('.');
  if (dot != std::string_view::npos && path.find('/', dot) == std::string_view::npos) {
    std::string ext(path.substr(dot));
    for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (auto it = kTypes.find(ext); it != kTypes.end()) return it->second;
  }
  return "application/octet-stream";
}

Result<DashboardFiles> DashboardFiles::load(const std::string& dir, std::size_t maxBytes) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return invalid(dir + " is not a directory");
  DashboardFiles out;
  std::size_t total = 0;
  const fs::path root = fs::canonical(dir, ec);
  if (ec) return invalid("cannot read " + dir + ": " + ec.message());
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (!name.empty() && name.front() == '.') {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::ostringstream body;
    body << in.rdbuf();
    if (!in) return invalid("cannot read " + it->path().string());
    total += body.str().size();
    if (total > maxBytes) return invalid(dir + " holds more than " + std::to_string(maxBytes >> 20) + " MiB");
    const std::string urlPath = "/" + fs::relative(it->path(), root).generic_string();
    out.files_.emplace(urlPath, makeFile(body.str(), urlPath));
  }
  if (ec) return invalid("cannot read " + dir + ": " + ec.message());
  if (!out.files_.count("/index.html")) return invalid(dir + " has no index.html");
  return out;
}

DashboardFiles DashboardFiles::placeholder() {
  DashboardFiles out;
  out.files_.emplace("/index.html", makeFile(kPlaceholder, "/index.html"));
  return out;
}

const StaticFile* DashboardFiles::find(std::string_view path) const {
  if (path.empty() || path == "/") path = "/index.html";
  if (auto it = files_.find(path); it != files_.end()) return &it->second;
  if (hasExtension(path)) return nullptr;
  auto index = files_.find(std::string_view("/index.html"));
  return index == files_.end() ? nullptr : &index->second;
}

}  // namespace proxyos::edge
