// Symbolic errno names ("ENOENT") in both directions, for policies, logs and test messages.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace faultfs {

// "ENOENT" for 2; "errno 4242" for a code the C library has no name for.
std::string ErrnoName(int code);
// 2 for "ENOENT"; nullopt for anything that is not an errno name.
std::optional<int> ErrnoFromName(std::string_view name);
// Every name ErrnoFromName() accepts.
std::vector<std::string_view> ErrnoNames();

}  // namespace faultfs
