#pragma once
// The one error idiom of ProxyOS.
//
// Fallible operations return Result<T> (a value or an Error). REST handlers may
// instead throw ErrorException; the http service skeleton turns either into the
// contract's JSON body {"error":{"code","message","field"}} with the status that
// the Error's kind maps to. The data plane never throws across a request.
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace proxyos {

enum class ErrorKind {
  BadRequest,          // 400: malformed request (invalid JSON, bad query)
  Unauthorized,        // 401
  Forbidden,           // 403
  NotFound,            // 404
  Conflict,            // 409: a uniqueness claim is held by someone else
  PreconditionFailed,  // 412: If-Match / compare-and-set lost
  PayloadTooLarge,     // 413
  Invalid,             // 422: well-formed but fails validation; `field` names it
  TooManyRequests,     // 429
  Unavailable,         // 503: a dependency (NATS, Redis, another service) is down
  Internal,            // 500
};

struct Error {
  ErrorKind kind = ErrorKind::Internal;
  std::string code;     // snake_case, stable, for machines
  std::string message;  // for a human
  std::string field;    // JSON path of the offending field, when there is one
  std::vector<Error> details;  // further errors of the same request (validation)

  static Error invalid(std::string field, std::string message, std::string code = "invalid_field") {
    return {ErrorKind::Invalid, std::move(code), std::move(message), std::move(field), {}};
  }
  static Error make(ErrorKind kind, std::string code, std::string message) {
    return {kind, std::move(code), std::move(message), {}, {}};
  }
};

int httpStatus(ErrorKind kind);

/// Thrown by REST handlers; caught by the service skeleton.
class ErrorException : public std::runtime_error {
 public:
  explicit ErrorException(Error e) : std::runtime_error(e.message), error_(std::move(e)) {}
  const Error& error() const { return error_; }

 private:
  Error error_;
};

/// A value or an Error. Deliberately small: ok(), value(), error(), valueOr().
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT(implicit)
  Result(Error error) : v_(std::move(error)) {}      // NOLINT(implicit)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const Error& error() const { return std::get<1>(v_); }
  T valueOr(T fallback) const { return ok() ? value() : std::move(fallback); }
  /// The value, or throws ErrorException (for REST handlers).
  T& orThrow() & {
    if (!ok()) throw ErrorException(error());
    return value();
  }
  T orThrow() && {
    if (!ok()) throw ErrorException(error());
    return std::get<0>(std::move(v_));
  }

 private:
  std::variant<T, Error> v_;
};

struct Unit {};
using Status = Result<Unit>;
inline Status okStatus() { return Unit{}; }

}  // namespace proxyos
