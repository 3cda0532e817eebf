// Joining words into one line ("a, b, c") for messages.
#pragma once

#include <string>
#include <string_view>

namespace faultfs {

// The items of `items` (anything convertible to string_view), separated by `sep`.
template <class Items>
std::string Join(const Items& items, std::string_view sep = ", ") {
  std::string out;
  bool first = true;
  for (const auto& item : items) {
    if (!first) out += sep;
    out += std::string_view(item);
    first = false;
  }
  return out;
}

}  // namespace faultfs
