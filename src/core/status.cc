#include "faultfs/core/status.h"

#include "faultfs/core/errno_names.h"

namespace faultfs {

Status Status::FromErrno(int code, std::string context) {
  FAULTFS_CHECK(code > 0) << "FromErrno needs a positive errno, got " << code;
  return {code, std::move(context), true};
}

Status Status::Invalid(std::string message) { return {EINVAL, std::move(message), false}; }

std::string Status::ToString() const {
  if (ok()) return "OK";
  // Invalid errors carry their whole text; errno errors append the system's wording.
  if (!from_errno_) return message_;
  if (message_.empty()) return ErrnoText(code_);
  return message_ + ": " + ErrnoText(code_);
}

}  // namespace faultfs
