#include "shared/model/json_reader.h"

#include <algorithm>
#include <limits>
#include <set>

namespace proxyos::model {

std::string fieldPath(std::string_view prefix, std::string_view key) {
  std::string path(prefix);
  if (!path.empty()) path += '.';
  path += key;
  return path;
}

std::string indexPath(std::string_view base, std::size_t index) {
  return std::string(base) + "[" + std::to_string(index) + "]";
}

// ---------------------------------------------------------------------------
// ErrorCollector

void ErrorCollector::add(const std::string& field, std::string code, const std::string& message) {
  errors_.push_back(Error::invalid(field, field.empty() ? message : field + ": " + message, std::move(code)));
}

void ErrorCollector::insertAt(std::size_t position, Error error) {
  errors_.insert(errors_.begin() + static_cast<std::ptrdiff_t>(std::min(position, errors_.size())), std::move(error));
}

bool ErrorCollector::hasErrorAt(std::string_view path) const {
  return std::any_of(errors_.begin(), errors_.end(), [path](const Error& e) {
    const std::string_view f = e.field;
    if (f.size() < path.size() || f.substr(0, path.size()) != path) return false;
    return f.size() == path.size() || f[path.size()] == '.' || f[path.size()] == '[';
  });
}

Error ErrorCollector::toError() const {
  Error first = errors_.front();
  first.details = errors_;
  return first;
}

// ---------------------------------------------------------------------------
// parseJsonObject

Result<nlohmann::json> parseJsonObject(std::string_view body) {
  // nlohmann keeps the last of two equal keys silently; another parser (the
  // dashboard's, an auditor's jq) may keep the first. Track keys per open
  // object so such a document is refused rather than read two ways.
  std::vector<std::set<std::string>> openObjects;
  std::string duplicateKey;
  auto callback = [&](int /*depth*/, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start) {
      openObjects.emplace_back();
    } else if (event == Event::object_end) {
      if (!openObjects.empty()) openObjects.pop_back();
    } else if (event == Event::key && !openObjects.empty()) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!openObjects.back().insert(key).second && duplicateKey.empty()) duplicateKey = key;
    }
    return true;
  };

  nlohmann::json document;
  try {
    document = nlohmann::json::parse(body.begin(), body.end(), callback);
  } catch (const nlohmann::json::parse_error& e) {
    // what() is "[json.exception.parse_error.101] parse error at line 1, column 7: ...";
    // the bracketed id means nothing to a client, the position does.
    std::string what = e.what();
    if (auto close = what.find("] "); what.rfind("[json.exception.", 0) == 0 && close != std::string::npos)
      what = what.substr(close + 2);
    return Error::make(ErrorKind::BadRequest, "invalid_json", "invalid JSON: " + what);
  }
  if (!duplicateKey.empty())
    return Error::make(ErrorKind::BadRequest, "invalid_json", "invalid JSON: key \"" + duplicateKey + "\" appears twice in one object");
  if (!document.is_object())
    return Error::make(ErrorKind::BadRequest, "invalid_json", "expected a JSON object");
  return document;
}

// ---------------------------------------------------------------------------
// JsonObjectReader

JsonObjectReader::JsonObjectReader(const nlohmann::json& object, std::string path, ErrorCollector& errors)
    : object_(object), path_(std::move(path)), errors_(errors), firstError_(errors.size()) {}

const nlohmann::json* JsonObjectReader::lookup(std::string_view key) {
  known_.emplace_back(key);
  auto it = object_.find(std::string(key));
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

void JsonObjectReader::typeError(std::string_view key, const char* expected) {
  errors_.add(pathOf(key), "invalid_type", std::string("expected ") + expected);
}

bool JsonObjectReader::has(std::string_view key) { return lookup(key) != nullptr; }

bool JsonObjectReader::readString(std::string_view key, std::string& out) {
  const auto* v = lookup(key);
  if (v == nullptr) return false;
  if (!v->is_string()) {
    typeError(key, "a string");
    return false;
  }
  out = v->get<std::string>();
  return true;
}

bool JsonObjectReader::readBool(std::string_view key, bool& out) {
  const auto* v = lookup(key);
  if (v == nullptr) return false;
  if (!v->is_boolean()) {
    typeError(key, "a boolean");
    return false;
  }
  out = v->get<bool>();
  return true;
}

bool JsonObjectReader::readUint64(std::string_view key, std::uint64_t& out) {
  const auto* v = lookup(key);
  if (v == nullptr) return false;
  // A document built in code may hold a positive value as a signed integer.
  const bool ok = v->is_number_unsigned() || (v->is_number_integer() && v->get<std::int64_t>() >= 0);
  if (!ok) {
    typeError(key, "a non-negative integer");
    return false;
  }
  out = v->get<std::uint64_t>();
  return true;
}

bool JsonObjectReader::readInt64(std::string_view key, std::int64_t& out) {
  const auto* v = lookup(key);
  if (v == nullptr) return false;
  const bool ok = v->is_number_integer() &&
                  (!v->is_number_unsigned() ||
                   v->get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()));
  if (!ok) {
    typeError(key, "an integer");
    return false;
  }
  out = v->get<std::int64_t>();
  return true;
}

bool JsonObjectReader::readStringArray(std::string_view key, std::vector<std::string>& out) {
  const auto* v = lookup(key);
  if (v == nullptr) return false;
  if (!v->is_array()) {
    typeError(key, "an array of strings");
    return false;
  }
  std::vector<std::string> items;
  items.reserve(v->size());
  bool ok = true;
  for (std::size_t i = 0; i < v->size(); ++i) {
    const auto& item = (*v)[i];
    if (!item.is_string()) {
      errors_.add(indexPath(pathOf(key), i), "invalid_type", "expected a string");
      ok = false;
      continue;
    }
    items.push_back(item.get<std::string>());
  }
  if (ok) out = std::move(items);
  return ok;
}

bool JsonObjectReader::readStringMap(std::string_view key, std::map<std::string, std::string>& out) {
  const auto* v = lookup(key);
  if (v == nullptr) return false;
  if (!v->is_object()) {
    typeError(key, "an object of string values");
    return false;
  }
  std::map<std::string, std::string> items;
  bool ok = true;
  for (const auto& item : v->items()) {
    if (!item.value().is_string()) {
      errors_.add(fieldPath(pathOf(key), item.key()), "invalid_type", "expected a string");
      ok = false;
      continue;
    }
    items.emplace(item.key(), item.value().get<std::string>());
  }
  if (ok) out = std::move(items);
  return ok;
}

const nlohmann::json* JsonObjectReader::readObject(std::string_view key) {
  const auto* v = lookup(key);
  if (v == nullptr) return nullptr;
  if (!v->is_object()) {
    typeError(key, "an object");
    return nullptr;
  }
  return v;
}

void JsonObjectReader::finish() {
  std::size_t at = firstError_;
  for (const auto& item : object_.items()) {
    if (std::find(known_.begin(), known_.end(), item.key()) != known_.end()) continue;
    const std::string path = pathOf(item.key());
    errors_.insertAt(at++, Error::invalid(path, path + ": unknown field", "unknown_field"));
  }
}

}  // namespace proxyos::model
