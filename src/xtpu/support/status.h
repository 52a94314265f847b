// Status and StatusOr: errors a user can cause (bad file, unsupported op,
// shape mismatch) travel as values; only bugs are CHECKs (see check.h).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace xtpu {

// What kind of failure; most callers only need ok() and message().
enum class StatusCode : uint8_t {
  kOk,
  kInvalidArgument,  // bad input: file, shape, attribute, value
  kUnimplemented,    // valid input that xtpu does not support (yet)
  kNotFound,         // missing file or name
  kInternal,
  kCancelled,        // stopped on request (SimOptions::cancel, e.g. Ctrl-C in Python)
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  static Status Error(std::string message, StatusCode code = StatusCode::kInvalidArgument) {
    Status s;
    s.ok_ = false;
    s.code_ = code;
    s.message_ = std::move(message);
    return s;
  }
  bool ok() const { return ok_; }
  StatusCode code() const { return ok_ ? StatusCode::kOk : code_; }
  const std::string& message() const { return message_; }
  // Returns a copy whose message is "<prefix>: <message>".
  Status WithPrefix(const std::string& prefix) const {
    if (ok_) return *this;
    return Error(prefix + ": " + message_, code_);
  }

 private:
  bool ok_ = true;
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status OkStatus() { return Status(); }

template <typename... Args>
Status Error(fmt::format_string<Args...> f, Args&&... args) {
  return Status::Error(fmt::format(f, std::forward<Args>(args)...));
}

template <typename... Args>
Status Unimplemented(fmt::format_string<Args...> f, Args&&... args) {
  return Status::Error(fmt::format(f, std::forward<Args>(args)...), StatusCode::kUnimplemented);
}

template <typename... Args>
Status NotFound(fmt::format_string<Args...> f, Args&&... args) {
  return Status::Error(fmt::format(f, std::forward<Args>(args)...), StatusCode::kNotFound);
}

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status) : v_(std::move(status)) {  // NOLINT: implicit
    if (std::get<Status>(v_).ok()) std::abort();     // OK status carries no value
  }
  StatusOr(T value) : v_(std::move(value)) {}  // NOLINT: implicit
  template <typename U,
            typename = std::enable_if_t<std::is_convertible_v<U&&, T> &&
                                        !std::is_same_v<std::decay_t<U>, Status> &&
                                        !std::is_same_v<std::decay_t<U>, T>>>
  StatusOr(U&& value) : v_(T(std::forward<U>(value))) {}  // NOLINT: implicit

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<Status, T> v_;
};

}  // namespace xtpu

#define XTPU_CONCAT_INNER(a, b) a##b
#define XTPU_CONCAT(a, b) XTPU_CONCAT_INNER(a, b)

// Returns from the enclosing function if `expr` (a Status) is an error.
#define RETURN_IF_ERROR(expr)                  \
  do {                                         \
    ::xtpu::Status _st = (expr);               \
    if (!_st.ok()) return _st;                 \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, StatusOrExpr);`
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(XTPU_CONCAT(_status_or_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
