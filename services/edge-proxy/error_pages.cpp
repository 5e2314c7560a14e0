#include "error_pages.h"

#include <map>
#include <nlohmann/json.hpp>
#include <mutex>
#include <string>

namespace proxyos::edge {

namespace {

std::string_view explanation(unsigned status) {
  switch (status) {
    case 400:
      return "The request could not be understood.";
    case 404:
      return "No route matches this address.";
    case 413:
      return "The request body is larger than this route accepts.";
    case 431:
      return "The request headers are too large.";
    case 502:
      return "The upstream did not answer.";
    case 503:
      return "The service is not available right now.";
    case 504:
      return "The upstream did not answer in time.";
    default:
      return "";
  }
}

std::string htmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// `text` is HTML already.
std::string render(unsigned status, std::string_view text) {
  const std::string title = std::to_string(status) + " " + std::string(reasonPhrase(status));
  std::string page = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + title +
                     "</title></head>\n<body><h1>" + title + "</h1>\n";
  if (!text.empty()) page += "<p>" + std::string(text) + "</p>\n";
  page += "<hr><p>ProxyOS</p></body></html>\n";
  return page;
}

}  // namespace

std::string_view reasonPhrase(unsigned status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 417:
      return "Expectation Failed";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Error";
  }
}

std::string_view errorPage(unsigned status) {
  // Rendered once per status and never erased: std::map nodes do not move,
  // so the views handed out stay valid while other threads insert.
  static std::mutex mu;
  static std::map<unsigned, std::string> pages;
  std::lock_guard lock(mu);
  auto it = pages.find(status);
  if (it == pages.end()) it = pages.emplace(status, render(status, explanation(status))).first;
  return it->second;
}

std::string errorPageSaying(unsigned status, std::string_view text) { return render(status, htmlEscape(text)); }

std::string jsonErrorBody(std::string_view code, std::string_view message) {
  return nlohmann::json{{"error", {{"code", code}, {"message", message}}}}.dump();
}

}  // namespace proxyos::edge
