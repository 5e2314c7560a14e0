#include "http_io.h"

namespace proxyos::edge {

namespace http = boost::beast::http;

namespace {

void append(std::string& out, boost::beast::string_view s) { out.append(s.data(), s.size()); }

template <class FieldsT>
void appendFields(const FieldsT& fields, std::string& out) {
  for (const auto& f : fields) {
    append(out, f.name_string());
    out += ": ";
    append(out, f.value());
    out += "\r\n";
  }
  out += "\r\n";
}

void appendVersion(unsigned version, std::string& out) {
  out += "HTTP/";
  out += static_cast<char>('0' + version / 10);
  out += '.';
  out += static_cast<char>('0' + version % 10);
}

template <class FieldsT>
void appendRequestHead(const http::request_header<FieldsT>& head, std::string& out) {
  append(out, head.method_string());
  out += ' ';
  append(out, head.target());
  out += ' ';
  appendVersion(head.version(), out);
  out += "\r\n";
  appendFields(head, out);
}

template <class FieldsT>
void appendResponseHead(const http::response_header<FieldsT>& head, std::string& out) {
  appendVersion(head.version(), out);
  const unsigned code = head.result_int();
  out += ' ';
  out += static_cast<char>('0' + code / 100);
  out += static_cast<char>('0' + code / 10 % 10);
  out += static_cast<char>('0' + code % 10);
  out += ' ';
  // An upstream's own reason phrase is passed on, as Beast's serializer does.
  const auto reason = head.reason();
  append(out, reason.empty() ? http::obsolete_reason(head.result()) : reason);
  out += "\r\n";
  appendFields(head, out);
}

}  // namespace

void appendHead(const http::request_header<Fields>& head, std::string& out) { appendRequestHead(head, out); }
void appendHead(const http::response_header<Fields>& head, std::string& out) { appendResponseHead(head, out); }
void appendHead(const http::response_header<>& head, std::string& out) { appendResponseHead(head, out); }

}  // namespace proxyos::edge
