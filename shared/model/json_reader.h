#pragma once
// Strict JSON decoding shared by every model (Route, SsoProvider, User, ...).
//
// Caddy's rule is followed: decode strictly (unknown fields are an error) and
// report every problem at once, each pointing at its field by JSON path, so a
// dashboard form can mark all bad inputs after one round trip.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "shared/core/error.h"

namespace proxyos::model {

/// "routes[3]" + "domains" -> "routes[3].domains"; "" + "domains" -> "domains".
std::string fieldPath(std::string_view prefix, std::string_view key);
/// "domains" + 1 -> "domains[1]".
std::string indexPath(std::string_view base, std::size_t index);

/// Every error found in one document, in the order the fields were read.
/// All entries are ErrorKind::Invalid (422) with `field` set.
class ErrorCollector {
 public:
  /// Records `field: message` under `code`; the message repeats the path so it
  /// still makes sense when shown without the field (logs, CLI output).
  void add(const std::string& field, std::string code, const std::string& message);
  /// Inserts at a position (used to put unknown fields before the type errors
  /// of the same object: a misspelt key explains the "required" that follows).
  void insertAt(std::size_t position, Error error);

  bool empty() const { return errors_.empty(); }
  std::size_t size() const { return errors_.size(); }
  const std::vector<Error>& errors() const { return errors_; }

  /// True when an error was recorded at `path` or anywhere below it
  /// ("domains" covers "domains[2]"). Validation uses it to skip a field whose
  /// decoding already failed instead of piling a second error onto it.
  bool hasErrorAt(std::string_view path) const;

  /// The first error, carrying all of them (the first included) in `details`.
  /// Precondition: !empty().
  Error toError() const;

 private:
  std::vector<Error> errors_;
};

/// Parses a request body that must be one JSON object. Returns BadRequest
/// `invalid_json` with the parser's position on a syntax error, on a top level
/// that is not an object, and on a key repeated within one object (parsers
/// disagree on which copy wins, so an ambiguous document is refused).
Result<nlohmann::json> parseJsonObject(std::string_view body);

/// Reads one JSON object field by field. Absent and `null` fields leave the
/// output untouched (so struct defaults apply); a wrong type is recorded as
/// `invalid_type` at the field's path and also leaves the output untouched.
/// finish() reports every key that no read asked for as `unknown_field`.
///
/// The reader keeps references to `object` and `errors`; both must outlive it.
class JsonObjectReader {
 public:
  /// `object` must be a JSON object (checked by the caller, see readObject()).
  JsonObjectReader(const nlohmann::json& object, std::string path, ErrorCollector& errors);

  /// The path of a field of this object.
  std::string pathOf(std::string_view key) const { return fieldPath(path_, key); }
  /// True when the key is present with a non-null value (marks it as known).
  bool has(std::string_view key);

  // Each returns true when the field was present, non-null and well-typed.
  bool readString(std::string_view key, std::string& out);
  bool readBool(std::string_view key, bool& out);
  bool readUint64(std::string_view key, std::uint64_t& out);
  bool readInt64(std::string_view key, std::int64_t& out);
  /// An array whose elements are all strings. A bad element is reported at its
  /// own path ("domains[2]") and the whole field is left untouched.
  bool readStringArray(std::string_view key, std::vector<std::string>& out);
  /// An object whose values are all strings (e.g. header name -> value).
  bool readStringMap(std::string_view key, std::map<std::string, std::string>& out);
  /// A nested object, or nullptr when absent, null or not an object (the last
  /// is recorded). Read it with a JsonObjectReader at pathOf(key).
  const nlohmann::json* readObject(std::string_view key);

  /// Records `unknown_field` for each key no read or has() asked for.
  /// Call once, after all reads.
  void finish();

 private:
  /// The value of a known key, or nullptr when absent or null.
  const nlohmann::json* lookup(std::string_view key);
  void typeError(std::string_view key, const char* expected);

  const nlohmann::json& object_;
  std::string path_;
  ErrorCollector& errors_;
  std::size_t firstError_;  // where this object's unknown fields are inserted
  std::vector<std::string> known_;
};

}  // namespace proxyos::model
