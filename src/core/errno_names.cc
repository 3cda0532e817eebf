#include "faultfs/core/errno_names.h"

#include <cstring>

namespace faultfs {

namespace {
constexpr int kMaxErrno = 4096;  // well above the largest Linux errno (EHWPOISON = 133)
}

std::string ErrnoName(int code) {
  const char* name = (code > 0 && code < kMaxErrno) ? strerrorname_np(code) : nullptr;
  return name != nullptr ? std::string(name) : "errno " + std::to_string(code);
}

std::string ErrnoText(int code) {
  const char* text = (code > 0 && code < kMaxErrno) ? strerrordesc_np(code) : nullptr;
  return text != nullptr ? std::string(text) : "Unknown error " + std::to_string(code);
}

std::optional<int> ErrnoFromName(std::string_view name) {
  for (int code = 1; code < kMaxErrno; ++code) {
    const char* candidate = strerrorname_np(code);
    if (candidate != nullptr && name == candidate) return code;
  }
  return std::nullopt;
}

std::vector<std::string_view> ErrnoNames() {
  std::vector<std::string_view> names;
  for (int code = 1; code < kMaxErrno; ++code) {
    if (const char* name = strerrorname_np(code)) names.emplace_back(name);
  }
  return names;
}

}  // namespace faultfs
