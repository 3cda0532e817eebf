// Invariant checks that stay on in release builds. A failed check prints where and why, then
// aborts: continuing past a broken invariant in a filesystem can corrupt user data.
#pragma once

#include <sstream>

namespace faultfs::internal {

class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition);
  [[noreturn]] ~CheckFailure();
  CheckFailure(const CheckFailure&) = delete;
  CheckFailure& operator=(const CheckFailure&) = delete;
  template <typename T>
  CheckFailure& operator<<(const T& v) {
    stream_ << v;
    return *this;
  }

 private:
  std::ostringstream stream_;
};

// Lets the macro below be an expression whose message part is only evaluated on failure.
struct Voidify {
  void operator&(const CheckFailure&) {}
};

}  // namespace faultfs::internal

#define FAULTFS_CHECK(cond)                      \
  (__builtin_expect(static_cast<bool>(cond), 1)) \
      ? (void)0                                  \
      : ::faultfs::internal::Voidify() &         \
            ::faultfs::internal::CheckFailure(__FILE__, __LINE__, #cond)
