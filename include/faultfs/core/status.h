// Errors as values. A Status is either OK or carries an errno-style code plus a message that says
// where the problem is. Result<T> holds a T or a non-OK Status. Both are [[nodiscard]]: an ignored
// error is a bug the compiler should point at.
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "faultfs/core/check.h"

namespace faultfs {

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  static Status Ok() { return {}; }
  // An error from a system call: `code` is the errno, `context` names what was being done.
  static Status FromErrno(int code, std::string context);
  // An error that is not a system call failure (bad input, broken invariant of the data...).
  // It carries EINVAL so callers that must turn it into an errno still can.
  static Status Invalid(std::string message);

  bool ok() const { return code_ == 0; }
  int code() const { return code_; }
  const std::string& message() const { return message_; }
  // "context: strerror(code)" or the message for Invalid errors.
  std::string ToString() const;

 private:
  Status(int code, std::string message, bool from_errno)
      : code_(code), from_errno_(from_errno), message_(std::move(message)) {}
  int code_ = 0;
  bool from_errno_ = false;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    FAULTFS_CHECK(!std::get<Status>(v_).ok()) << "Result built from an OK status";
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return Checked(); }
  const T& value() const& { return const_cast<Result*>(this)->Checked(); }
  T&& value() && { return std::move(Checked()); }
  T* operator->() { return &Checked(); }
  T& operator*() { return Checked(); }

 private:
  T& Checked() {
    FAULTFS_CHECK(ok()) << "value() of a failed Result: " << std::get<Status>(v_).ToString();
    return std::get<T>(v_);
  }
  std::variant<T, Status> v_;
};

// Returns from the enclosing function when `expr` (a Status) is not OK.
#define FAULTFS_RETURN_IF_ERROR(expr)        \
  do {                                       \
    ::faultfs::Status faultfs_s_ = (expr);   \
    if (!faultfs_s_.ok()) return faultfs_s_; \
  } while (0)

}  // namespace faultfs
